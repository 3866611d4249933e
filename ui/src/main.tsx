// Entry: picks the backend (Tauri inside the app, the mock in a browser) and draws the window.

import { render } from "preact";
import { App } from "./App";
import { selectBackend } from "./backend/select";
import { DemoControls } from "./DemoControls";
import "./styles.css";

const root = document.getElementById("app");
if (root) {
  const { backend, mock } = selectBackend();
  render(
    <>
      <App backend={backend} />
      {mock && <DemoControls mock={mock} />}
    </>,
    root,
  );
}
