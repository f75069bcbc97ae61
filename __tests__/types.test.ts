/**
 * Type test of the public API: compiles __tests__/fixtures/public-api.ts with the project's compiler
 * options. The fixture must compile cleanly, and each `// @ts-expect-error TSnnnn …` line must mark a
 * line that really fails with that error code (checked by compiling it again without the directives).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixture = join(root, '__tests__/fixtures/public-api.ts');
const DIRECTIVE = /\/\/ @ts-expect-error (TS\d+)/;

function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (!parsed) throw new Error('tsconfig.json could not be read');
  return { ...parsed.options, noEmit: true };
}

/** Diagnostics of the fixture, compiled from `source` (its real text unless given). */
function diagnose(options: ts.CompilerOptions, source?: string, oldProgram?: ts.Program) {
  const host = ts.createCompilerHost(options);
  if (source !== undefined) {
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, ...rest) =>
      name === fixture ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
  }
  const program = ts.createProgram({ rootNames: [fixture], options, host, ...(oldProgram ? { oldProgram } : {}) });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ({
    file: d.file?.fileName,
    line: d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1,
    code: `TS${d.code}`,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
  return { program, diagnostics };
}

describe('the public API types', () => {
  const options = compilerOptions();
  const text = readFileSync(fixture, 'utf8');
  const lines = text.split('\n');
  const expected = lines.flatMap((line, index) => {
    const match = DIRECTIVE.exec(line);
    return match ? [{ line: index + 1, code: match[1]!, what: line.trim() }] : [];
  });
  let first: ReturnType<typeof diagnose> | undefined;

  it('compile cleanly for a strict user, augmentation included, every expected error present', () => {
    first = diagnose(options);
    expect(first.diagnostics).toEqual([]);
    expect(expected.length).toBeGreaterThanOrEqual(15);
  });

  it('reject each wrong use with the TypeScript error its directive names', () => {
    const stripped = lines.map((line) => line.replace(DIRECTIVE, '// (expected $1)')).join('\n');
    const { diagnostics } = diagnose(options, stripped, first?.program);
    const inFixture = diagnostics.filter((d) => d.file === fixture);
    expect(inFixture.length).toBe(diagnostics.length);
    const byLine = new Map<number, string[]>();
    for (const d of inFixture) byLine.set(d.line, [...(byLine.get(d.line) ?? []), d.code]);
    // Errors only on the lines the directives mark, each with the named code.
    expect([...byLine.keys()].sort((a, b) => a - b)).toEqual(expected.map((e) => e.line));
    for (const e of expected) expect({ what: e.what, codes: byLine.get(e.line) }).toEqual({ what: e.what, codes: expect.arrayContaining([e.code]) });
  });
});
