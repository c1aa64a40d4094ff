// The largest functions of a wasm module with a name section, by the size of their
// code: `node wasm-top.mjs FILE COUNT PREFIX` prints the COUNT largest whose name
// starts with PREFIX, one per line: "<bytes> <name>" (the name without its hash).
import { readFileSync } from "node:fs";

const [file, count = "5", prefix = ""] = process.argv.slice(2);
const bytes = readFileSync(file);
let at = 8; // magic and version

const leb = () => {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
};
const text = () => {
  const length = leb();
  at += length;
  return bytes.toString("utf8", at - length, at);
};

let imported = 0;
const sizes = [];
const names = new Map();
while (at < bytes.length) {
  const id = bytes[at++];
  const size = leb();
  const end = at + size;
  if (id === 2) {
    // Imports: imported functions come first in the function index space.
    for (let n = leb(); n > 0; n--) {
      text();
      text();
      const kind = bytes[at++];
      if (kind === 0) { imported++; leb(); }
      else if (kind === 1) { at++; const flags = leb(); leb(); if (flags & 1) leb(); }
      else if (kind === 2) { const flags = leb(); leb(); if (flags & 1) leb(); }
      else if (kind === 3) { at += 2; }
      else if (kind === 4) { at++; leb(); }
      else throw new Error(`unknown import kind ${kind}`);
    }
  } else if (id === 10) {
    for (let n = leb(); n > 0; n--) {
      const body = leb();
      sizes.push(body);
      at += body;
    }
  } else if (id === 0 && text() === "name") {
    while (at < end) {
      const sub = bytes[at++];
      const length = leb();
      const subEnd = at + length;
      if (sub === 1) {
        for (let n = leb(); n > 0; n--) {
          const index = leb();
          names.set(index, text());
        }
      }
      at = subEnd;
    }
  }
  at = end;
}
if (names.size === 0) throw new Error(`${file} has no function names`);

const rows = sizes
  .map((size, i) => [size, (names.get(imported + i) ?? "").replace(/::h[0-9a-f]{16}$/, "")])
  .filter(([, name]) => name.startsWith(prefix))
  .sort((a, b) => b[0] - a[0])
  .slice(0, Number(count));
for (const [size, name] of rows) console.log(`${size} ${name}`);
