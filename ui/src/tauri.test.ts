import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn<(command: string, args?: Record<string, unknown>) => Promise<unknown>>(async () => undefined);
vi.mock("@tauri-apps/api/core", () => ({ invoke: (command: string, args?: Record<string, unknown>) => invoke(command, args) }));

const { tauriBackend } = await import("./backend/tauri");

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
});
