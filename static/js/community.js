// Community buttons without a page reload: favourite, follow, react and collection toggles
// post their form with fetch and update in place; copy buttons copy generation data. Every
// form still works without this file (it posts and comes back to the page).
(function () {
  "use strict";

  function setPressed(form, on, count) {
    const button = form.querySelector("button");
    const want = form.querySelector("input[name=on]");
    if (want) want.value = on ? "0" : "1"; // the next press undoes this one
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.classList.toggle("on", on);
    const label = on ? button.dataset.onLabel : button.dataset.offLabel;
    if (label) button.textContent = label;
    const counter = button.querySelector(".count");
    if (counter && typeof count === "number") counter.textContent = count.toLocaleString();
    // "Follow" invites (primary); "Following" is a quiet state.
    if (form.action.includes("/follow")) button.classList.toggle("primary", !on);
  }

  // A count shown elsewhere on the page (the header's ♥ total, a profile's followers) names
  // the same counter as its form; the server sends the translated, pluralised label when
  // the words around the number depend on it.
  function showCount(counter, data) {
    if (!counter || typeof data.count !== "number") return;
    document.querySelectorAll(`[data-counter-shows="${counter}"]`).forEach((element) => {
      element.textContent = data.count_label || data.count.toLocaleString();
    });
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.matches("form[data-toggle]")) return;
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true; // a double click sends one request
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.redirected || !response.ok) {
        form.submit(); // signed out, refused: let the page say why
        return;
      }
      const data = await response.json();
      setPressed(form, data.on, data.count);
      showCount(form.dataset.counter, data);
    } catch (error) {
      form.submit();
    } finally {
      button.disabled = false;
    }
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    const source = button.dataset.copy ? document.querySelector(button.dataset.copy) : null;
    const text = source ? source.textContent : button.dataset.copyAll || "";
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      // Clipboard refused (plain http, old browser): select the text for Ctrl+C instead.
      if (source) window.getSelection().selectAllChildren(source);
      return;
    }
    const label = button.textContent;
    button.classList.add("copied");
    button.textContent = button.dataset.copiedLabel || "✓";
    setTimeout(() => { button.textContent = label; button.classList.remove("copied"); }, 1500);
  });
})();
