// The phone's passkey key on iOS: a P-256 key in the Secure Enclave that signs only after Face ID
// or Touch ID, every time. The Rust side (src/mobile.rs, src/protocol.rs) calls these commands;
// the webview cannot (the plugin grants no permission and its Rust side refuses them).

import Foundation
import LocalAuthentication
import Security
import SwiftRs
import Tauri
import UIKit
import WebKit

// The codes the Rust side turns into KeySignerError (src/protocol.rs, CODES).
private let cancelled = "cancelled"
private let notEnrolled = "notEnrolled"
private let notAvailable = "notAvailable"
private let keyInvalidated = "keyInvalidated"
private let lockout = "lockout"
private let keyMissing = "keyMissing"
private let failed = "failed"

struct KeyArgs: Decodable {
  let alias: String
}

struct SignArgs: Decodable {
  let alias: String
  // Standard base64 of the bytes to sign (authenticatorData || SHA-256(clientDataJSON)).
  let message: String
  let title: String
  let subtitle: String
  let cancel: String
}

/// The key's application tag in the keychain.
private func tag(_ alias: String) -> Data {
  return Data("jp.inkan.passkey.\(alias)".utf8)
}

/// Where the enrolled-biometrics fingerprint of the moment a key was made is kept (not a secret).
private func domainStateKey(_ alias: String) -> String {
  return "jp.inkan.passkey.domain-state.\(alias)"
}

/// Usable only with the biometrics enrolled when the key was made, and only on this device with a
/// passcode set: adding a finger or a face, or removing the passcode, ends the key.
private func accessControl() throws -> SecAccessControl {
  var error: Unmanaged<CFError>?
  guard
    let access = SecAccessControlCreateWithFlags(
      kCFAllocatorDefault, kSecAttrAccessibleWhenPasscodeSetThisDeviceOnly,
      [.privateKeyUsage, .biometryCurrentSet], &error)
  else {
    throw error!.takeRetainedValue() as Error
  }
  return access
}

/// The key's access control, or `nil` with the call rejected.
private func accessControl(or invoke: Invoke) -> SecAccessControl? {
  do {
    return try accessControl()
  } catch {
    invoke.reject("could not make the key's access control: \(error.localizedDescription)", code: failed)
    return nil
  }
}

/// Whether `context` can ask for a biometric; if it cannot, the call is rejected with why.
private func canAskForBiometric(_ context: LAContext, or invoke: Invoke) -> Bool {
  var policyError: NSError?
  guard context.canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, error: &policyError) else {
    let (code, message) = laFailure(policyError)
    invoke.reject(message, code: code)
    return false
  }
  return true
}

/// An LAError as (code, message) for the Rust side.
private func laFailure(_ error: Error?) -> (String, String) {
  let message = error?.localizedDescription ?? "unknown error"
  guard let la = error as? LAError else { return (failed, message) }
  switch la.code {
  case .userCancel, .systemCancel, .appCancel, .userFallback:
    return (cancelled, message)
  case .biometryLockout:
    return (lockout, message)
  case .biometryNotEnrolled:
    return (notEnrolled, message)
  case .biometryNotAvailable, .passcodeNotSet:
    return (notAvailable, message)
  default:
    return (failed, message)
  }
}

class PasskeyPlugin: Plugin {
  /// Makes the key; shows no prompt. Answers `{"publicKey": base64(04 || X || Y)}`.
  @objc public func createKey(_ invoke: Invoke) throws {
    let args = try invoke.parseArgs(KeyArgs.self)
    let context = LAContext()
    guard canAskForBiometric(context, or: invoke) else { return }
    guard let access = accessControl(or: invoke) else { return }
    let attributes: [String: Any] = [
      kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
      kSecAttrKeySizeInBits as String: 256,
      kSecAttrTokenID as String: kSecAttrTokenIDSecureEnclave,
      kSecPrivateKeyAttrs as String: [
        kSecAttrIsPermanent as String: true,
        kSecAttrApplicationTag as String: tag(args.alias),
        kSecAttrAccessControl as String: access,
      ] as [String: Any],
    ]
    var error: Unmanaged<CFError>?
    guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
      // The simulator, and devices without a Secure Enclave, end here.
      let reason = error.map { ($0.takeRetainedValue() as Error).localizedDescription } ?? "unknown error"
      invoke.reject("the Secure Enclave could not make the key: \(reason)", code: notAvailable)
      return
    }
    guard let publicKey = SecKeyCopyPublicKey(key),
      let point = SecKeyCopyExternalRepresentation(publicKey, &error) as Data?
    else {
      invoke.reject("could not read the new key's public key", code: failed)
      return
    }
    // Remember which biometrics the key was made under, to say "invalidated" rather than "failed"
    // once they change.
    if let state = context.evaluatedPolicyDomainState {
      UserDefaults.standard.set(state, forKey: domainStateKey(args.alias))
    }
    // An EC public key's external representation is the X9.63 uncompressed point: 04 || X || Y.
    invoke.resolve(["publicKey": point.base64EncodedString()])
  }

  /// Asks for Face ID or Touch ID; once passed, the Secure Enclave signs the message
  /// (ecdsaSignatureMessageX962SHA256: SHA-256, then ECDSA, DER). Answers `{"signature": base64}`.
  @objc public func sign(_ invoke: Invoke) throws {
    let args = try invoke.parseArgs(SignArgs.self)
    guard let message = Data(base64Encoded: args.message) else {
      invoke.reject("the message is not base64", code: failed)
      return
    }
    let context = LAContext()
    context.localizedCancelTitle = args.cancel
    // No "enter passcode" button: only the biometric unlocks this key.
    context.localizedFallbackTitle = ""
    context.touchIDAuthenticationAllowableReuseDuration = 0
    guard canAskForBiometric(context, or: invoke) else { return }
    if let made = UserDefaults.standard.data(forKey: domainStateKey(args.alias)),
      let now = context.evaluatedPolicyDomainState, made != now
    {
      invoke.reject("a biometric was added or removed since the key was made", code: keyInvalidated)
      return
    }
    guard let access = accessControl(or: invoke) else { return }
    // iOS shows one line of text: the title and the subtitle together ("Pay ¥1,280 to FamilyMart Shibuya").
    let reason = "\(args.title) \(args.subtitle)"
    context.evaluateAccessControl(access, operation: .useKeySign, localizedReason: reason) { passed, error in
      guard passed else {
        let (code, message) = laFailure(error)
        invoke.reject(message, code: code)
        return
      }
      // The context has been authenticated: the key, looked up with it, signs without asking again.
      let query: [String: Any] = [
        kSecClass as String: kSecClassKey,
        kSecAttrApplicationTag as String: tag(args.alias),
        kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
        kSecReturnRef as String: true,
        kSecUseAuthenticationContext as String: context,
      ]
      var item: CFTypeRef?
      let status = SecItemCopyMatching(query as CFDictionary, &item)
      guard status == errSecSuccess, let found = item else {
        invoke.reject(
          "no key under this alias (status \(status))",
          code: status == errSecItemNotFound ? keyMissing : failed)
        return
      }
      let key = found as! SecKey
      var signError: Unmanaged<CFError>?
      guard
        let signature = SecKeyCreateSignature(
          key, .ecdsaSignatureMessageX962SHA256, message as CFData, &signError) as Data?
      else {
        let reason =
          signError.map { ($0.takeRetainedValue() as Error).localizedDescription } ?? "unknown error"
        invoke.reject("the Secure Enclave did not sign: \(reason)", code: failed)
        return
      }
      invoke.resolve(["signature": signature.base64EncodedString()])
    }
  }

  /// Removes the key. Removing a key that is not there is not an error.
  @objc public func deleteKey(_ invoke: Invoke) throws {
    let args = try invoke.parseArgs(KeyArgs.self)
    let query: [String: Any] = [
      kSecClass as String: kSecClassKey,
      kSecAttrApplicationTag as String: tag(args.alias),
    ]
    let status = SecItemDelete(query as CFDictionary)
    UserDefaults.standard.removeObject(forKey: domainStateKey(args.alias))
    if status == errSecSuccess || status == errSecItemNotFound {
      invoke.resolve()
    } else {
      invoke.reject("could not remove the key (status \(status))", code: failed)
    }
  }
}

@_cdecl("init_plugin_inkan_passkey")
func initPlugin() -> Plugin {
  return PasskeyPlugin()
}
