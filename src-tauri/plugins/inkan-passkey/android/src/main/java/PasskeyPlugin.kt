// The phone's passkey key on Android: a P-256 key in the Android Keystore that signs only after a
// strong biometric, every time. The Rust side (src/mobile.rs, src/protocol.rs) calls these
// commands; the webview cannot (the plugin grants no permission and its Rust side refuses them).

package jp.inkan.passkey

import android.app.Activity
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.util.Base64
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import app.tauri.annotation.Command
import app.tauri.annotation.InvokeArg
import app.tauri.annotation.TauriPlugin
import app.tauri.plugin.Invoke
import app.tauri.plugin.JSObject
import app.tauri.plugin.Plugin
import java.math.BigInteger
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.ProviderException
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec

private const val ANDROID_KEYSTORE = "AndroidKeyStore"

// The codes the Rust side turns into KeySignerError (src/protocol.rs, CODES).
private const val CANCELLED = "cancelled"
private const val NOT_ENROLLED = "notEnrolled"
private const val NOT_AVAILABLE = "notAvailable"
private const val KEY_INVALIDATED = "keyInvalidated"
private const val LOCKOUT = "lockout"
private const val KEY_MISSING = "keyMissing"
private const val FAILED = "failed"

@InvokeArg
class KeyArgs {
    lateinit var alias: String
}

@InvokeArg
class SignArgs {
    lateinit var alias: String
    // Standard base64 of the bytes to sign (authenticatorData || SHA-256(clientDataJSON)).
    lateinit var message: String
    lateinit var title: String
    lateinit var subtitle: String
    lateinit var cancel: String
}

@TauriPlugin
class PasskeyPlugin(private val activity: Activity) : Plugin(activity) {

    /** Makes the key; shows no prompt. Answers `{"publicKey": base64(04 || X || Y)}`. */
    @Command
    fun createKey(invoke: Invoke) {
        val args = invoke.parseArgs(KeyArgs::class.java)
        val unusable = biometricUnusable()
        if (unusable != null) {
            invoke.reject(unusable.second, unusable.first)
            return
        }
        try {
            val pair = generate(args.alias)
            val answer = JSObject()
            answer.put("publicKey", Base64.encodeToString(uncompressed(pair.public as ECPublicKey), Base64.NO_WRAP))
            invoke.resolve(answer)
        } catch (e: Exception) {
            invoke.reject("could not make the key: ${e.message}", FAILED)
        }
    }

    /**
     * Shows the biometric prompt; once the person passes it, the key signs the message
     * (SHA256withECDSA, DER). Answers `{"signature": base64(DER)}`.
     */
    @Command
    fun sign(invoke: Invoke) {
        val args = invoke.parseArgs(SignArgs::class.java)
        val message = try {
            Base64.decode(args.message, Base64.NO_WRAP)
        } catch (e: IllegalArgumentException) {
            invoke.reject("the message is not base64", FAILED)
            return
        }
        val unusable = biometricUnusable()
        if (unusable != null) {
            invoke.reject(unusable.second, unusable.first)
            return
        }
        val host = activity as? FragmentActivity
        if (host == null) {
            invoke.reject("the app's activity cannot show a biometric prompt", FAILED)
            return
        }
        val signature = Signature.getInstance("SHA256withECDSA")
        try {
            val keyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
            val key = keyStore.getKey(args.alias, null) as? PrivateKey
            if (key == null) {
                invoke.reject("no key under this alias", KEY_MISSING)
                return
            }
            signature.initSign(key)
        } catch (e: KeyPermanentlyInvalidatedException) {
            invoke.reject("a biometric was added or removed since the key was made", KEY_INVALIDATED)
            return
        } catch (e: Exception) {
            invoke.reject("could not open the key: ${e.message}", FAILED)
            return
        }

        val callback = object : BiometricPrompt.AuthenticationCallback() {
            override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) {
                // The key signs only through the Signature the biometric unlocked.
                val unlocked = result.cryptoObject?.signature
                if (unlocked == null) {
                    invoke.reject("the biometric did not unlock the key", FAILED)
                    return
                }
                try {
                    unlocked.update(message)
                    val answer = JSObject()
                    answer.put("signature", Base64.encodeToString(unlocked.sign(), Base64.NO_WRAP))
                    invoke.resolve(answer)
                } catch (e: Exception) {
                    invoke.reject("could not sign: ${e.message}", FAILED)
                }
            }

            override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                invoke.reject(errString.toString(), promptErrorCode(errorCode))
            }

            // onAuthenticationFailed (a finger or face not recognised) is not the end: the prompt
            // stays up for another try, and the system locks out after too many.
        }

        activity.runOnUiThread {
            val info = BiometricPrompt.PromptInfo.Builder()
                .setTitle(args.title)
                .setSubtitle(args.subtitle)
                .setNegativeButtonText(args.cancel)
                // Only a strong (class 3) biometric can unlock a key for one operation; no PIN.
                .setAllowedAuthenticators(BIOMETRIC_STRONG)
                .setConfirmationRequired(true)
                .build()
            BiometricPrompt(host, ContextCompat.getMainExecutor(activity), callback)
                .authenticate(info, BiometricPrompt.CryptoObject(signature))
        }
    }

    /** Removes the key. Removing a key that is not there is not an error. */
    @Command
    fun deleteKey(invoke: Invoke) {
        val args = invoke.parseArgs(KeyArgs::class.java)
        try {
            KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }.deleteEntry(args.alias)
            invoke.resolve(JSObject())
        } catch (e: Exception) {
            invoke.reject("could not remove the key: ${e.message}", FAILED)
        }
    }

    /** A P-256 signing key that needs a strong biometric for each use; StrongBox when there is one. */
    private fun generate(alias: String): KeyPair {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P &&
            activity.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)
        ) {
            try {
                return generate(alias, strongBox = true)
            } catch (e: ProviderException) {
                // StrongBoxUnavailableException (a ProviderException): use the TEE-backed keystore.
            }
        }
        return generate(alias, strongBox = false)
    }

    private fun generate(alias: String, strongBox: Boolean): KeyPair {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setUserAuthenticationRequired(true)
            // A new fingerprint or face switches the key off: whoever adds one cannot pay with it.
            .setInvalidatedByBiometricEnrollment(true)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            // Timeout 0: each use needs its own strong biometric, bound to that operation.
            spec.setUserAuthenticationParameters(0, KeyProperties.AUTH_BIOMETRIC_STRONG)
        } else {
            // -1: the same before Android 11 (authentication per operation, biometric only).
            @Suppress("DEPRECATION")
            spec.setUserAuthenticationValidityDurationSeconds(-1)
        }
        if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            spec.setIsStrongBoxBacked(true)
        }
        val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEYSTORE)
        generator.initialize(spec.build())
        return generator.generateKeyPair()
    }

    /** Why no strong biometric can be used now, as (code, message); null when one can. */
    private fun biometricUnusable(): Pair<String, String>? =
        when (BiometricManager.from(activity).canAuthenticate(BIOMETRIC_STRONG)) {
            BiometricManager.BIOMETRIC_SUCCESS -> null
            BiometricManager.BIOMETRIC_ERROR_NONE_ENROLLED -> Pair(NOT_ENROLLED, "no strong biometric is enrolled")
            BiometricManager.BIOMETRIC_ERROR_NO_HARDWARE -> Pair(NOT_AVAILABLE, "no biometric sensor")
            BiometricManager.BIOMETRIC_ERROR_HW_UNAVAILABLE -> Pair(NOT_AVAILABLE, "the biometric sensor is unavailable")
            BiometricManager.BIOMETRIC_ERROR_SECURITY_UPDATE_REQUIRED -> Pair(NOT_AVAILABLE, "a security update is required")
            BiometricManager.BIOMETRIC_ERROR_UNSUPPORTED -> Pair(NOT_AVAILABLE, "no strong biometric on this Android version")
            else -> Pair(NOT_AVAILABLE, "the biometric status is unknown")
        }

    private fun promptErrorCode(code: Int): String = when (code) {
        BiometricPrompt.ERROR_USER_CANCELED,
        BiometricPrompt.ERROR_NEGATIVE_BUTTON,
        BiometricPrompt.ERROR_CANCELED,
        BiometricPrompt.ERROR_TIMEOUT -> CANCELLED
        BiometricPrompt.ERROR_LOCKOUT,
        BiometricPrompt.ERROR_LOCKOUT_PERMANENT -> LOCKOUT
        BiometricPrompt.ERROR_NO_BIOMETRICS -> NOT_ENROLLED
        // (A sensor waiting for a security update is caught before the prompt, by canAuthenticate.)
        BiometricPrompt.ERROR_HW_NOT_PRESENT,
        BiometricPrompt.ERROR_HW_UNAVAILABLE -> NOT_AVAILABLE
        else -> FAILED
    }

    /** SEC1 uncompressed point: 04 || X || Y, each coordinate 32 bytes big-endian. */
    private fun uncompressed(key: ECPublicKey): ByteArray {
        val point = ByteArray(65)
        point[0] = 4
        coordinate(key.w.affineX).copyInto(point, 1)
        coordinate(key.w.affineY).copyInto(point, 33)
        return point
    }

    private fun coordinate(value: BigInteger): ByteArray {
        // toByteArray is two's complement: it may carry a leading 0 byte, or be shorter than 32.
        val bytes = value.toByteArray()
        val digits = if (bytes.size > 32) bytes.copyOfRange(bytes.size - 32, bytes.size) else bytes
        val out = ByteArray(32)
        digits.copyInto(out, 32 - digits.size)
        return out
    }
}
