// Anything a backend call rejects with, as the `{code, message}` the screens show. The Rust side
// sends an `AppError`; Tauri itself rejects with a plain string (e.g. arguments it could not read).

import type { AppError } from "./bindings";

export function toAppError(e: unknown): AppError {
  if (typeof e === "object" && e !== null && "code" in e && "message" in e) {
    const { code, message } = e as { code: unknown; message: unknown };
    return { code: String(code), message: String(message) };
  }
  if (typeof e === "string") return { code: "unknown", message: e };
  if (e instanceof Error) return { code: "unknown", message: e.message };
  return { code: "unknown", message: "" };
}
