// Each module of the loop core must compile with only what it imports.
//
// events.ts names Future and Task as FutureOf<T> / TaskOf<T>, which
// futures.ts and tasks.ts fill in by declaration merging: in the whole
// program they are the classes. A module below futures.ts or tasks.ts that
// used a member only the class has would still compile as part of the
// whole program, while depending on a module it does not import, which is
// an import cycle the import graph cannot show. Compiling each module with
// only its own imports (where FutureOf<T> / TaskOf<T> fall back to the
// interfaces FutureLike<T> / TaskLike<T> unless it imports the class)
// rules that out. Run by `npm run lint`.
import ts from 'typescript';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const configPath = path.join(root, 'tsconfig.json');
const config = ts.getParsedCommandLineOfConfigFile(configPath, { noEmit: true }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });

// The loop core below tasks.ts, bottom up (tasks.ts registers the last class,
// so from there on each module sees what the whole program sees).
const CORE = ['events', 'unretrieved', 'futures', 'async_tasks'];

const host = ts.createCompilerHost(config.options);
let program;
let failed = 0;
for (const name of CORE) {
  const file = path.join(root, 'src', `${name}.ts`);
  program = ts.createProgram([file], config.options, host, program);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    failed++;
    console.error(`src/${name}.ts does not compile with only its own imports:`);
    console.error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
  }
}
if (failed > 0) process.exit(1);
console.log(`check-layers: ${CORE.length} core modules compile on their own`);
