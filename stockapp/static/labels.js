// The sheet of labels' Print button: shown once this script runs, it opens the
// browser's print dialog (the page's print stylesheet leaves the labels alone).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-labels");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
