// Entry: picks the backend (Tauri inside the app, the mock in a browser during development) and
// draws the window. The demo panel is loaded only in development, so a production build leaves it out.

import { render, type VNode } from "preact";
import { App } from "./App";
import { selectBackend } from "./backend/select";
import "./styles.css";

async function start(root: HTMLElement): Promise<void> {
  const { backend, mock } = await selectBackend();
  let demo: VNode | null = null;
  if (import.meta.env.DEV && mock) {
    const { DemoControls } = await import("./DemoControls");
    demo = <DemoControls mock={mock} />;
  }
  render(
    <>
      <App backend={backend} />
      {demo}
    </>,
    root,
  );
}

const root = document.getElementById("app");
if (root) void start(root);
