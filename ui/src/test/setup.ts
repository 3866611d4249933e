// Each test starts from a clean window: no stored settings, nothing rendered.
import { cleanup } from "@testing-library/preact";
import { afterEach, beforeEach } from "vitest";

beforeEach(() => {
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});

afterEach(() => {
  cleanup();
});
