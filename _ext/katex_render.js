// Render TeX with KaTeX for the book's build (_ext/bn_katex.py): one JSON request per line
// on stdin ({"tex": ..., "display": bool}), one JSON answer per line on stdout
// ({"html": ...} or {"error": ...}). Exits when stdin closes, so it never outlives the build.
"use strict";
const katex = require(process.argv[2]);
const readline = require("readline");
const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  let answer;
  try {
    const req = JSON.parse(line);
    answer = { html: katex.renderToString(req.tex, {
      displayMode: !!req.display, throwOnError: true, strict: "ignore", output: "htmlAndMathml" }) };
  } catch (e) {
    answer = { error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
rl.on("close", () => process.exit(0));
