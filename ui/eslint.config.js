// ESLint for the UI (`npm run lint`, no warning allowed): typescript-eslint's recommended rules and
// the rules of hooks. eslint-plugin-react-hooks knows hooks by their names (useEffect, useMemo, …),
// so it checks Preact's `preact/hooks` as it checks React's.

import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  globalIgnores(["dist/", "node_modules/"]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    languageOptions: { globals: globals.browser },
    rules: {
      // Case labels stacked under a comment (Activity's tones) share one body; that is no fall-through.
      "no-fallthrough": ["error", { allowEmptyCase: true }],
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
    },
  },
  {
    files: ["*.{js,mjs}", "scripts/**/*.{js,mjs}"],
    languageOptions: { globals: globals.node },
  },
]);
