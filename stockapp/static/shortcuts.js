// "/" goes to the page's find box (marked aria-keyshortcuts="/"), unless the
// clerk is typing somewhere already.
"use strict";
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target.closest("input, textarea, select, [contenteditable]");
  const find = document.querySelector('input[aria-keyshortcuts="/"]');
  if (typing || !find) return;
  event.preventDefault();
  find.focus();
  find.select();
});
