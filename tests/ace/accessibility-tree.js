// Prints what a screen reader is given for each XHTML file named on the command line: Chromium's
// accessibility tree, as JSON ({file: tree}). Run with PUPPETEER_EXECUTABLE_PATH set.
'use strict';
const puppeteer = require('puppeteer');
const { pathToFileURL } = require('url');

(async () => {
  const browser = await puppeteer.launch({ headless: true, args: ['--no-sandbox'] });
  const trees = {};
  try {
    const page = await browser.newPage();
    for (const file of process.argv.slice(2)) {
      await page.goto(pathToFileURL(file).href);
      trees[file] = await page.accessibility.snapshot({ interestingOnly: false });
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(trees));
})();
