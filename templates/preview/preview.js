// The preview page's behaviour: switches, flipping cards, and live updates.
//
// The server sends the bank's version as Server-Sent Events; on a new one the page fetches
// the state and, like Anki's previewer, swaps the cards' HTML in place instead of reloading:
// the scroll position and the flipped cards stay as they were. Bank text only ever reaches
// the page as HTML the server made safe, or through textContent (the problems).
"use strict";

const preview = document.getElementById("preview");
const problems = document.getElementById("problems");
const problemList = document.getElementById("problem-list");
const status = document.getElementById("status");
const nightMode = document.getElementById("night-mode");
const phoneWidth = document.getElementById("phone-width");
const allAnswers = document.getElementById("all-answers");
let version = Number(document.body.dataset.version);
let cards = null; // the HTML last swapped in; null until the first state arrives (the page's own is shown)

function showSide(card, back) {
  card.querySelector(".front").hidden = back;
  card.querySelector(".back").hidden = !back;
  card.classList.toggle("flipped", back);
}

// Anki marks night mode on the card's <body>; here each card is its own box, so both.
function applySwitches() {
  for (const element of [document.body, ...preview.querySelectorAll(".card")]) {
    element.classList.toggle("nightMode", nightMode.checked);
    element.classList.toggle("night_mode", nightMode.checked);
  }
  document.body.classList.toggle("phone", phoneWidth.checked);
}

function typeset() {
  if (window.MathJax && window.MathJax.typesetPromise) {
    window.MathJax.typesetClear([preview]);
    return window.MathJax.typesetPromise([preview]);
  }
  return Promise.resolve();
}

function showProblems(list) {
  problemList.replaceChildren(...list.map((problem) => {
    const entry = document.createElement("li");
    const where = document.createElement("code");
    where.className = "where";
    where.textContent = problem.where;
    entry.append(where);
    if (problem.item) {
      const item = document.createElement("span");
      item.className = "item";
      item.textContent = ` [item ${problem.item}]`;
      entry.append(item);
    }
    const message = document.createElement("span");
    message.className = "message";
    message.textContent = ` ${problem.message}`;
    entry.append(message);
    return entry;
  }));
  problems.hidden = list.length === 0;
}

async function swapCards(html) {
  const flipped = new Set([...preview.querySelectorAll(".preview-card.flipped")].map((card) => card.dataset.card));
  const scroll = [window.scrollX, window.scrollY];
  preview.innerHTML = html;
  for (const card of preview.querySelectorAll(".preview-card")) {
    showSide(card, allAnswers.checked || flipped.has(card.dataset.card));
  }
  applySwitches();
  window.scrollTo(...scroll);
  await typeset();
  window.scrollTo(...scroll);
}

async function update() {
  const response = await fetch("state", { cache: "no-store" });
  const state = await response.json();
  if (state.page !== document.body.dataset.page) {
    window.location.reload(); // the preview's own page changed
    return;
  }
  showProblems(state.problems);
  if (state.version !== version && state.cards !== null && state.cards !== cards) {
    await swapCards(state.cards);
  }
  cards = state.cards;
  version = state.version;
  document.body.dataset.version = String(version);
  status.textContent = state.problems.length ? `${state.problems.length} error(s)` : `updated ${new Date().toLocaleTimeString()}`;
}

let updating = Promise.resolve();
function listen() {
  const events = new EventSource("events");
  events.addEventListener("version", (event) => {
    if (Number(event.data) !== version || cards === null) {
      updating = updating.then(update).catch((error) => { status.textContent = `update failed: ${error}`; });
    }
  });
  events.addEventListener("error", () => { status.textContent = "the preview server is not answering"; });
  events.addEventListener("open", () => { status.textContent = ""; });
}

preview.addEventListener("click", (event) => {
  const button = event.target.closest("button.flip");
  if (button) {
    const card = button.closest(".preview-card");
    showSide(card, !card.classList.contains("flipped"));
  }
});
nightMode.addEventListener("change", applySwitches);
phoneWidth.addEventListener("change", applySwitches);
allAnswers.addEventListener("change", () => {
  for (const card of preview.querySelectorAll(".preview-card")) showSide(card, allAnswers.checked);
});
applySwitches();
listen();
