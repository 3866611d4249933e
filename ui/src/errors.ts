// Anything a backend call rejects with, as the `{code, message}` the screens show. The Rust side
// sends an `AppError`; Tauri itself rejects with a plain string (e.g. arguments it could not read).
// A code this UI does not know (from a newer or older app) becomes `unknown`, keeping its message.

import type { AppError, AppErrorCode } from "./bindings";
import { appErrorCodes } from "./i18n";

export function isAppErrorCode(code: unknown): code is AppErrorCode {
  return typeof code === "string" && appErrorCodes.has(code);
}

export function toAppError(e: unknown): AppError {
  if (typeof e === "object" && e !== null && "code" in e && "message" in e) {
    const { code, message, tries_left, locked_until } = e as Record<string, unknown>;
    const error: AppError = { code: isAppErrorCode(code) ? code : "unknown", message: String(message) };
    // What the screens add to the sentence in Japanese ("one more wrong try locks it", "locked until").
    if (typeof tries_left === "number") error.tries_left = tries_left;
    if (typeof locked_until === "string") error.locked_until = locked_until;
    return error;
  }
  if (typeof e === "string") return { code: "unknown", message: e };
  if (e instanceof Error) return { code: "unknown", message: e.message };
  return { code: "unknown", message: "" };
}
