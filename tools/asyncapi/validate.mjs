// Validates AsyncAPI documents with the official parser (@asyncapi/parser): the
// AsyncAPI 3.0 JSON Schema, its payload schemas and the spec's semantic rules.
//
//   node validate.mjs FILE...
//
// Exit status 1 when any document has an error-level diagnostic, 2 on bad usage.
// Warnings and hints are printed and do not fail the check.
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE...');
  process.exit(2);
}

const parser = new Parser();
const severityName = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

let failed = false;
for (const file of files) {
  const { document, diagnostics } = await fromFile(parser, file).parse();
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of diagnostics) {
    const where = d.path && d.path.length ? d.path.join('.') : '(document)';
    console.error(`${file}: ${severityName[d.severity]}: ${d.code}: ${d.message} at ${where}`);
  }
  if (document === undefined || errors.length > 0) {
    failed = true;
    console.error(`${file}: INVALID (${errors.length} error(s))`);
  } else {
    const version = document.version();
    const channels = document.channels().length;
    const messages = document.allMessages().length;
    console.log(`${file}: valid AsyncAPI ${version} (${channels} channels, ${messages} messages)`);
  }
}
process.exit(failed ? 1 : 0);
