// Light progressive enhancement, hand-written, no build step. Every page works without it.
// - Timestamps: <time datetime> shown in the viewer's time zone (the UTC reading stays as the hover title).
// - Rule editor: the builder form and the YAML kept in step as you type, through the server's one
//   validator (POST /console/rule-builder); the schema's messages appear next to the fields.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  function localTimes(root) {
    const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
    for (const el of root.querySelectorAll("time[datetime]")) {
      const moment = new Date(el.getAttribute("datetime"));
      if (!isNaN(moment)) el.textContent = format.format(moment);
    }
  }
  localTimes(document);

  const form = document.getElementById("rule-form");
  const editor = document.getElementById("rule-yaml");
  const out = document.getElementById("validation");
  const slot = document.getElementById("builder-slot");
  if (!form || !editor || !out || !slot || editor.readOnly) return;
  const ruleId = form.dataset.ruleId || "";
  let timer = null;
  let inFlight = Promise.resolve();
  let pending = null;  // the sync waiting for its timer: [source, edit, restructure]

  function showYamlErrors(result) {
    out.className = "validation" + (result.valid ? " valid" : "");
    out.replaceChildren();
    if (result.valid) return;
    const list = document.createElement("ul");
    list.className = "errors";
    for (const e of result.errors) {
      const item = document.createElement("li");
      item.textContent = e.line ? `line ${e.line}: ${e.field}: ${e.message}` : `${e.field}: ${e.message}`;
      list.appendChild(item);
    }
    out.appendChild(list);
  }

  function showFieldErrors(errors) {
    for (const el of slot.querySelectorAll("[data-error-for]")) el.textContent = "";
    for (const e of errors) {
      let path = e.path || "r";
      let target = null;
      while (path && !(target = slot.querySelector(`[data-error-for="${CSS.escape(path)}"]`))) {
        path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
      }
      target = target || slot.querySelector('[data-error-for="r"]');
      if (target) target.textContent = (target.textContent ? target.textContent + "; " : "") + e.message;
    }
  }

  function status(text) {
    let note = document.getElementById("builder-status");
    if (!note) {
      note = document.createElement("p");
      note.id = "builder-status";
      note.className = "hint";
      slot.prepend(note);
    }
    note.textContent = text;
    note.hidden = !text;
  }

  function replaceBuilder(html) {
    const focused = document.activeElement && slot.contains(document.activeElement) ? document.activeElement.name : null;
    slot.innerHTML = html;
    if (focused) slot.querySelector(`[name="${CSS.escape(focused)}"]`)?.focus();
  }

  async function sync(source, edit, restructure) {
    pending = null;
    const body = new URLSearchParams(new FormData(form));
    body.set("source", source);
    body.set("edit", edit || "");
    body.set("rule_id", ruleId);
    const response = await fetch("/console/rule-builder", {
      method: "POST", credentials: "same-origin", body,
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
    });
    if (!response.ok) { out.textContent = "validation unavailable (" + response.status + ")"; return; }
    const result = await response.json();
    showYamlErrors(result);
    if (source === "form") {
      if (editor.value !== result.yaml) editor.value = result.yaml;
    }
    if (result.html && (restructure || source === "yaml")) replaceBuilder(result.html);
    status(source === "yaml" && !result.html ? "The YAML has errors: the form shows the last version that read as a rule." : "");
    showFieldErrors(result.errors);
  }

  function run(args) {
    inFlight = inFlight.then(() => sync(...args)).catch(() => {});
    return inFlight;
  }

  function queue(source, edit, restructure, delay) {
    clearTimeout(timer);
    const args = [source, edit, restructure];
    pending = args;
    timer = setTimeout(() => run(args), delay);
  }

  editor.addEventListener("input", () => queue("yaml", "", false, 300));
  slot.addEventListener("input", (event) => {
    if (event.target.matches("[data-restructure]")) return;  // handled on change
    queue("form", "", false, 250);
  });
  slot.addEventListener("change", (event) => {
    const target = event.target;
    if (!target.matches("[data-restructure]")) { queue("form", "", false, 0); return; }
    const name = target.name || "";
    const edit = /\.(field|op)$/.test(name) ? "retype:" + name.replace(/\.(field|op)$/, "") : "sync";
    queue("form", edit, true, 0);
  });
  slot.addEventListener("click", (event) => {
    const button = event.target.closest("button[name=edit]");
    if (!button) return;
    event.preventDefault();
    queue("form", button.value, true, 0);
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches("#builder-slot input")) {
      event.preventDefault();
      queue("form", "", false, 0);
    }
  });
  // Saving, previewing or backtesting waits for the last edit to reach the YAML.
  form.addEventListener("submit", async (event) => {
    if (!pending && !form.dataset.syncing) return;
    event.preventDefault();
    const submitter = event.submitter;
    clearTimeout(timer);
    form.dataset.syncing = "1";
    if (pending) run(pending);
    await inFlight;
    delete form.dataset.syncing;
    form.requestSubmit(submitter);
  });
})();
