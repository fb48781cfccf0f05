// MathJax 3 set up as Anki's reviewer sets it up (ts/lib/mathjax/mathjax-config.ts): \( \) and
// \[ \] only, so a dollar sign in a bank stays a dollar sign. The page typesets each swap itself.
window.MathJax = {
  tex: {
    displayMath: [["\\[", "\\]"]],
    inlineMath: [["\\(", "\\)"]],
    processEscapes: false,
    processEnvironments: false,
    processRefs: false,
  },
  startup: { typeset: true },
  options: { enableMenu: false },
};
