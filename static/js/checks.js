// Follows a version's checks while they run: updates each row's status in place, and reloads
// the page once when everything is done, so the decision and the files' state show.
(function () {
  "use strict";
  const panel = document.getElementById("checks");
  if (!panel) return;
  const url = panel.dataset.statusUrl;
  let delay = 2000;

  function render(run) {
    const row = panel.querySelector(`tr[data-run="${run.id}"]`);
    if (!row) return;
    const state = row.querySelector(".state");
    state.className = `state state-${run.state}`;
    state.textContent = run.state_label;
    const cell = row.querySelector(".findings");
    cell.replaceChildren();
    for (const finding of run.findings) {
      const p = document.createElement("p");
      p.className = `finding severity-${finding.severity}`;
      const strong = document.createElement("strong");
      strong.textContent = finding.severity_label;
      p.append(strong, ` · ${finding.rule_title}: ${finding.message}`);
      cell.append(p);
    }
    if (!run.findings.length) cell.textContent = run.state === "done" ? "Nothing found" : "—";
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      data.runs.forEach(render);
      if (data.finished && data.decision) {
        window.location.reload();
        return;
      }
      delay = 2000;
    } catch (error) {
      delay = Math.min(delay * 2, 30000); // the server is busy or away: back off
    }
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, delay);
})();
