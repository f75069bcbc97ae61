/**
 * The shape of lib/ (issue #25), read with the TypeScript compiler API: every import (type imports and
 * `import('…')` types too) goes to the file's own layer or one below it, no two files import each other
 * in a circle, no function is longer than 80 lines, and no line is wider than 120 columns. Each failure
 * names the file, the import, the function or the line at fault.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const lib = join(dirname(fileURLToPath(import.meta.url)), '..', 'lib');

/** Bottom to top. A file imports only from its own layer and the layers before it. */
const LAYERS = ['core', 'net', 'crypto', 'state', 'protocol', 'config', 'engine', 'express', 'eoc', 'cli', 'root'] as const;
type Layer = (typeof LAYERS)[number];

/** What the entry points may import: the index re-exports everything; the Passport adapter is beside express/. */
const ROOT_IMPORTS: Record<string, readonly Layer[]> = {
  'index.ts': LAYERS,
  'passport.ts': ['core', 'state', 'config', 'engine'],
};

const MAX_FUNCTION_LINES = 80;
const MAX_COLUMNS = 120;

function layerOf(file: string): Layer {
  const folder = file.includes('/') ? file.slice(0, file.indexOf('/')) : 'root';
  if (!(LAYERS as readonly string[]).includes(folder)) throw new Error(`${file}: lib/${folder}/ is in no layer of this test`);
  return folder as Layer;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Source {
  /** Relative to lib/, with forward slashes. */
  file: string;
  text: string;
  tree: ts.SourceFile;
}

const sources: Source[] = listFiles(lib).map((path) => {
  const text = readFileSync(path, 'utf8');
  return { file: relative(lib, path).split('\\').join('/'), text, tree: ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true) };
});

interface Edge {
  from: string;
  to: string;
  line: number;
}

/** Every relative module specifier of a file: imports, re-exports and `import('…')` types. */
function importsOf(source: Source): Edge[] {
  const edges: Edge[] = [];
  const visit = (node: ts.Node): void => {
    let specifier: ts.Expression | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) specifier = node.moduleSpecifier;
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) specifier = node.argument.literal;
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.')) {
      const target = resolve(dirname(join(lib, source.file)), specifier.text.replace(/\.js$/, '.ts'));
      const line = source.tree.getLineAndCharacterOfPosition(node.getStart(source.tree)).line + 1;
      edges.push({ from: source.file, to: relative(lib, target).split('\\').join('/'), line });
    }
    ts.forEachChild(node, visit);
  };
  visit(source.tree);
  return edges;
}

const edges = sources.flatMap(importsOf);

/** Tarjan's strongly connected components with more than one file: the import circles. */
function circles(): string[][] {
  const next = new Map<string, string[]>(sources.map((s) => [s.file, []]));
  for (const { from, to } of edges) next.get(from)!.push(to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    for (const to of next.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (stack.includes(to)) {
        low.set(file, Math.min(low.get(file)!, index.get(to)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      component.push(member);
    } while (member !== file);
    if (component.length > 1) found.push(component.sort());
  };
  for (const { file } of sources) if (!index.has(file)) visit(file);
  return found;
}

function functionName(node: ts.SignatureDeclaration, tree: ts.SourceFile): string {
  if (node.name) return node.name.getText(tree);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return parent.name.getText(tree);
  }
  return '(anonymous)';
}

/** Every function, method, accessor and arrow with a body, and its length in lines. */
function functionsOf(source: Source): Array<{ where: string; lines: number }> {
  const out: Array<{ where: string; lines: number }> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.tree.getLineAndCharacterOfPosition(node.getStart(source.tree)).line + 1;
      const end = source.tree.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      out.push({ where: `lib/${source.file}:${start} ${functionName(node, source.tree)}()`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source.tree);
  return out;
}

describe('the architecture of lib/', () => {
  it('reads every file, and places each in a layer', () => {
    expect(sources.length).toBeGreaterThan(40);
    for (const { file } of sources) expect(LAYERS).toContain(layerOf(file));
    expect(Object.keys(ROOT_IMPORTS).sort()).toEqual(sources.filter((s) => layerOf(s.file) === 'root').map((s) => s.file).sort());
  });

  it(`imports only from the same layer or a lower one (${LAYERS.join(' < ')})`, () => {
    const upward = edges
      .filter(({ from, to }) => LAYERS.indexOf(layerOf(to)) > LAYERS.indexOf(layerOf(from)))
      .map(({ from, to, line }) => `lib/${from}:${line} (${layerOf(from)}) imports lib/${to} (${layerOf(to)})`);
    expect(upward).toEqual([]);
  });

  it('lets the entry points import only what they are for (passport.ts: core, state, config, engine)', () => {
    const stray = edges
      .filter(({ from }) => layerOf(from) === 'root')
      .filter(({ from, to }) => !ROOT_IMPORTS[from]!.includes(layerOf(to)))
      .map(({ from, to, line }) => `lib/${from}:${line} imports lib/${to} (${layerOf(to)})`);
    expect(stray).toEqual([]);
  });

  it('has no import circle between files', () => {
    expect(circles().map((files) => files.map((f) => `lib/${f}`).join(' <-> '))).toEqual([]);
  });

  it(`has no function longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const functions = sources.flatMap(functionsOf);
    expect(functions.length).toBeGreaterThan(300);
    const long = functions.filter((f) => f.lines > MAX_FUNCTION_LINES).map((f) => `${f.where}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });

  it(`has no line wider than ${MAX_COLUMNS} columns`, () => {
    const wide = sources.flatMap(({ file, text }) =>
      text.split('\n').flatMap((line, i) => (line.length > MAX_COLUMNS ? [`lib/${file}:${i + 1}: ${line.length} columns`] : [])),
    );
    expect(wide).toEqual([]);
  });
});
