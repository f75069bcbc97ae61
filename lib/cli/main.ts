#!/usr/bin/env node
/**
 * The `express-par` command (package.json "bin"): `npx express-par check --issuer <url> …`. Sets the exit
 * status and lets Node exit by itself, so that stdout is flushed first.
 */
import { runCli } from './check.js';

const io = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
};

void runCli(process.argv.slice(2), process.env, io).then((status) => {
  process.exitCode = status;
});
