// Typeset a build's formulas with MathJax 3, the engine Anki's reviewer uses (run by qbank/formulas.py).
//
// stdin:  one JSON object a line, {"tex": "...", "display": true|false}
// stdout: one JSON object a line, in the same order: {"svg": "<mjx-container><svg ...>...",
//         "mathml": "<math ...>"}, or {"error": "MathJax's own message, XML-escaped"} for a
//         formula MathJax rejects.
//
// The TeX packages are Anki's (ts/lib/mathjax/mathjax-config.ts: tex-chtml-full.js, plus
// mathtools and mhchem, less textmacros), with these differences, because a bank is untrusted:
// - html (\href, \class, \cssId, \style, \data) and require would write links, classes and
//   styles, or load code; the html commands are defined to show their content only, and
//   \require to do nothing;
// - noerrors and noundefined would typeset a mistake (its TeX in a box, or an unknown command
//   in red) instead of reporting it: without them, MathJax's message reaches the build.
// SVG paths carry MathJax's own font; text it has no glyph for (Chinese in \text{} or bare)
// is a <text> element in font-family "serif", which the printed outputs replace with their
// font stack. The MathJax file path is the first argument.

const mathjaxPath = process.argv[2];

// MathJax's loader talks on the console; stdout is kept for the answers.
console.log = console.info = console.warn = (...args) => process.stderr.write(args.join(' ') + '\n');

const REMOVED_PACKAGES = ['html', 'require', 'autoload', 'noerrors', 'noundefined', 'textmacros'];
const CONTENT_ONLY = {href: ['#2', 2], class: ['#2', 2], cssId: ['#2', 2], style: ['#2', 2], data: ['#2', 2],
                      require: ['', 1]};

// Where \def, \newcommand and \newenvironment keep what they define (MathJax's newcommand package).
const DEFINITIONS = ['new-Delimiter', 'new-Command', 'new-Environment'];

// Each formula on its own, as if it were the only one: its \tag numbers and labels, and the
// macros it defines, are forgotten before the next. A formula's result depends on its TeX
// alone, so it can be cached by its TeX, and the order of a bank's formulas changes nothing.
function forgetTheFormulaBefore(MathJax) {
  MathJax.texReset();
  const handlers = MathJax.startup.input[0].parseOptions.handlers;
  for (const name of DEFINITIONS) {
    const definitions = handlers.retrieve(name);
    if (definitions) definitions.map.clear();
  }
}

function answer(MathJax, request) {
  // What MathJax.tex2svg does, keeping the MathItem: its MathML comes from the same parse.
  const document = MathJax.startup.document;
  const item = new document.options.MathItem(request.tex, document.inputJax[0], Boolean(request.display));
  item.start.node = document.adaptor.body(document.document);
  item.setMetrics(16, 8, 80 * 16, 100000, 1);  // tex2svg's defaults: em, ex, container and line width, scale
  forgetTheFormulaBefore(MathJax);
  item.convert(document);
  const mathml = MathJax.startup.toMML(item.root);
  const error = /<merror data-mjx-error="([^"]*)"/.exec(mathml);
  if (error) {
    return {error: error[1]};  // as an XML attribute: escaped
  }
  return {svg: document.adaptor.outerHTML(item.typesetRoot), mathml};
}

require(mathjaxPath).init({
  loader: {load: ['input/tex-full', 'output/svg']},
  tex: {packages: {'[-]': REMOVED_PACKAGES}, macros: CONTENT_ONLY},
  svg: {fontCache: 'none'},  // every formula self-contained: no <use> ids shared between them
  startup: {typeset: false},
}).then((MathJax) => {
  const lines = require('readline').createInterface({input: process.stdin, crlfDelay: Infinity});
  lines.on('line', (line) => {
    let reply;
    try {
      reply = answer(MathJax, JSON.parse(line));
    } catch (error) {
      reply = {error: String(error && error.message || error)};
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
}).catch((error) => {
  process.stderr.write(`MathJax did not start: ${error && error.message || error}\n`);
  process.exit(2);
});
