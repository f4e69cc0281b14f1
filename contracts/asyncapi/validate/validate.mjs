// Parse an AsyncAPI document with the AsyncAPI project's own parser and print every diagnostic.
// Exits 1 if any diagnostic has severity error (0), 2 on a usage or read error, else 0.
// Usage: node validate.mjs path/to/document.json
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs DOCUMENT");
  process.exit(2);
}
let text;
try {
  text = await readFile(path, "utf8");
} catch (error) {
  console.error(`cannot read ${path}: ${error.message}`);
  process.exit(2);
}
const { document, diagnostics } = await new Parser().parse(text, { source: path });
const names = { 0: "error", 1: "warning", 2: "information", 3: "hint" };
for (const d of diagnostics) {
  const where = (d.path || []).join("/");
  console.log(`${names[d.severity] ?? d.severity}\t${d.code}\t/${where}\t${d.message}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
console.log(`${errors.length} error(s), ${diagnostics.length} diagnostic(s); parsed: ${document !== undefined}`);
process.exit(errors.length === 0 && document !== undefined ? 0 : 1);
