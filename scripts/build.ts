// Builds the npm package's JavaScript: tsc (tsconfig.build.json) to dist/, declarations included,
// plus the files the compiled code reads next to itself (the demo's specs and its Python job).
// The sources import each other without extensions (moduleResolution Bundler, as tsx, vitest and
// Temporal's workflow bundler read them); Node's ESM loader needs the file itself, so the emit
// rewrites each relative specifier to the .js file (or the folder's index.js) it names, in the
// JavaScript and in the declarations. An import that resolves to no source file fails the build.
//   npx tsx scripts/build.ts        (npm run build; npm pack runs it through prepack)

import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist');

/** Non-TypeScript files the compiled code reads relative to itself (import.meta.url), copied to the same place under dist/. */
const ASSETS: { dir: string; match: RegExp }[] = [
  { dir: 'examples/specs', match: /\.yaml$/ },
  { dir: 'examples/pipelines', match: /\.(py|txt)$/ },
];

function rewriteSpecifier(specifier: string, fromFile: string): string {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return specifier;
  if (/\.(js|mjs|cjs|json)$/.test(specifier)) return specifier;
  const base = resolve(dirname(fromFile), specifier);
  if (existsSync(`${base}.ts`)) return `${specifier}.js`;
  if (existsSync(join(base, 'index.ts'))) return `${specifier.replace(/\/$/, '')}/index.js`;
  throw new Error(`${fromFile}: cannot resolve ${specifier} to a source file`);
}

function specifierRewriter<T extends ts.SourceFile | ts.Bundle>(context: ts.TransformationContext): (node: T) => T {
  const { factory } = context;
  return (file) => {
    if (!ts.isSourceFile(file)) return file;
    // Declarations are emitted from the original source file, whose name is the .ts one.
    const from = file.fileName.replace(/\.d\.ts$/, '.ts');
    const literal = (text: string) => factory.createStringLiteral(rewriteSpecifier(text, from));
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        return factory.updateImportDeclaration(node, node.modifiers, node.importClause, literal(node.moduleSpecifier.text), node.attributes);
      }
      if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        return factory.updateExportDeclaration(node, node.modifiers, node.isTypeOnly, node.exportClause, literal(node.moduleSpecifier.text), node.attributes);
      }
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
        return factory.updateCallExpression(node, node.expression, node.typeArguments, [literal(node.arguments[0].text), ...node.arguments.slice(1)]);
      }
      if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        return factory.updateImportTypeNode(node, factory.updateLiteralTypeNode(node.argument, literal(node.argument.literal.text)), node.attributes, node.qualifier, node.typeArguments, node.isTypeOf);
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitNode(file, visit) as T;
  };
}

function compile(): void {
  const configPath = join(root, 'tsconfig.build.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const config = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  const emitted = program.emit(undefined, undefined, undefined, false, { after: [specifierRewriter], afterDeclarations: [specifierRewriter] });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    throw new Error(ts.formatDiagnostics(diagnostics, host));
  }
}

function copyAssets(): void {
  for (const { dir, match } of ASSETS) {
    const target = join(outDir, dir);
    mkdirSync(target, { recursive: true });
    for (const name of readdirSync(join(root, dir))) if (match.test(name)) cpSync(join(root, dir, name), join(target, name));
  }
}

const started = performance.now();
rmSync(outDir, { recursive: true, force: true });
compile();
copyAssets();
process.stderr.write(`build: dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
