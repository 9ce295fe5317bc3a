// Light progressive enhancement: live validation of the rule editor. Pages work without it.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const editor = document.querySelector("textarea[data-validate]");
  const out = document.getElementById("validation");
  if (!editor || !out || editor.readOnly) return;
  let timer = null;
  async function validate() {
    const response = await fetch(editor.dataset.validate, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ yaml: editor.value }),
    });
    if (!response.ok) { out.textContent = "validation unavailable (" + response.status + ")"; return; }
    const result = await response.json();
    out.className = "validation" + (result.valid ? " valid" : "");
    out.replaceChildren();
    if (!result.valid) {
      const list = document.createElement("ul");
      list.className = "errors";
      for (const e of result.errors) {
        const item = document.createElement("li");
        item.textContent = `line ${e.line}: ${e.field}: ${e.message}`;
        list.appendChild(item);
      }
      out.appendChild(list);
    }
  }
  editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 300); });
})();
