// The notice pinned to the bottom of the screen (base.html's live region):
// it never hides the row it speaks of, and its Dismiss button puts it away.
"use strict";
let answered = null;  // the id of the element an answer is about to replace
document.addEventListener("htmx:beforeSwap", (event) => {
  answered = event.detail.target.id || null;
});
document.addEventListener("htmx:afterSettle", () => {
  const row = answered && document.getElementById(answered);
  const notice = document.getElementById("notice");
  answered = null;
  if (!row || !notice || !notice.firstElementChild) return;
  // Scroll just enough that the row's end clears the notice's top.
  const overlap = row.getBoundingClientRect().bottom - notice.getBoundingClientRect().top;
  if (overlap > 0) window.scrollBy({ top: overlap + 8 });
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("#notice button.dismiss");
  if (button) document.getElementById("notice").replaceChildren();
});
