// The tokens page's Copy button: copies the new token and says so.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById("copy-status");
  try {
    await navigator.clipboard.writeText(field.value);
    status.textContent = "Copied.";
  } catch {
    // No clipboard (an insecure origin, or refused): select it for Ctrl+C.
    field.select();
    status.textContent = "Select and copy it yourself: the text is selected.";
  }
});
