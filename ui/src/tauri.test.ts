import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn<(command: string, args?: Record<string, unknown>) => Promise<unknown>>(async () => undefined);
vi.mock("@tauri-apps/api/core", () => ({ invoke: (command: string, args?: Record<string, unknown>) => invoke(command, args) }));

const { tauriBackend } = await import("./backend/tauri");
const { COMMANDS } = await import("./commands");

describe("tauri backend", () => {
  beforeEach(() => invoke.mockClear());

  it("calls the unfreeze and recovery-code commands with their snake_case arguments", async () => {
    await tauriBackend.unfreeze();
    expect(invoke).toHaveBeenLastCalledWith("unfreeze", undefined);
    await tauriBackend.unfreezeWithRecoveryCode("ABCD-EFGH-JKLM");
    expect(invoke).toHaveBeenLastCalledWith("unfreeze_with_recovery_code", { recovery_code: "ABCD-EFGH-JKLM" });
    invoke.mockResolvedValueOnce(["A", "B"]);
    expect(await tauriBackend.replaceRecoveryCodes()).toEqual(["A", "B"]);
    expect(invoke).toHaveBeenLastCalledWith("replace_recovery_codes", undefined);
  });

  it("calls every command of the app, and only those (src-tauri/src/commands.rs)", async () => {
    const called = new Set<string>();
    for (const [name, method] of Object.entries(tauriBackend)) {
      if (name === "onEvent") continue;
      invoke.mockClear();
      // Arguments do not matter here: the mock answers anything.
      await (method as (...args: unknown[]) => Promise<unknown>)("x", "y");
      expect(invoke, name).toHaveBeenCalledTimes(1);
      called.add(invoke.mock.calls[0]?.[0] ?? "");
    }
    expect([...called].sort()).toEqual([...COMMANDS].sort());
  });
});
