// Debian's Chromium, launched the way this machine allows: headless, no sandbox (CI runs as
// root), and no background traffic to Google (the network is closed).
import { chromium } from "playwright-core";

export const APP = process.env.APP_URL;
export const ARTIFACTS = process.env.ARTIFACTS ?? ".";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
