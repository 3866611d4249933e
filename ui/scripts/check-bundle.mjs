// Fails when the production bundle (`dist/assets`) holds any part of the mock backend or of the
// demo panel: only `npm run dev` may load them (`src/main.tsx`, `src/backend/select.ts`). Run after
// `vite build`; `npm run build` does, and `npm run check-bundle` checks the `dist/` already there.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ui = join(dirname(fileURLToPath(import.meta.url)), "..");
const assets = join(ui, "dist", "assets");

// Strings that only the development-only sources hold. Each is looked up in its source first, so a
// renamed string fails here instead of letting the check pass by finding nothing.
const markers = [
  { text: "MOCK payment code: not scannable", source: "src/backend/mock.ts" },
  { text: "demo.inkan.invalid", source: "src/backend/mock.ts" },
  { text: "Demo controls (mock backend)", source: "src/DemoControls.tsx" },
  { text: "Next unfreeze by passkey: refused", source: "src/DemoControls.tsx" },
  { text: ".demo-panel", source: "src/DemoControls.css" },
];

function fail(lines) {
  console.error(["check-bundle: FAILED", ...lines].join("\n"));
  process.exit(1);
}

const stale = markers.filter((m) => !readFileSync(join(ui, m.source), "utf8").includes(m.text));
if (stale.length > 0) {
  fail(stale.map((m) => `  marker "${m.text}" is no longer in ${m.source}: update the markers in scripts/check-bundle.mjs`));
}

if (!existsSync(assets)) fail([`  ${assets} does not exist: run \`npm run build\` first`]);
const files = readdirSync(assets).filter((f) => f.endsWith(".js") || f.endsWith(".css"));
if (!files.some((f) => f.endsWith(".js"))) fail([`  no JavaScript in ${assets}: run \`npm run build\` first`]);

const found = [];
for (const file of files) {
  const text = readFileSync(join(assets, file), "utf8");
  for (const m of markers) {
    if (text.includes(m.text)) found.push(`  dist/assets/${file} contains "${m.text}" (from ${m.source})`);
  }
}
if (found.length > 0) {
  fail([
    "the production bundle contains the development-only mock backend or demo panel:",
    ...found,
    "load them only behind `import.meta.env.DEV` with a dynamic import() (see src/main.tsx and src/backend/select.ts)",
  ]);
}
console.log(`check-bundle: ok, no mock or demo code in ${files.length} files of dist/assets (${markers.length} markers)`);
