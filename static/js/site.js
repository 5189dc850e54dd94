// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Filters sit open beside the results on wide screens and fold away on phones.
  if (window.matchMedia("(max-width: 800px)").matches) {
    document.querySelectorAll("details[data-fold-on-narrow]").forEach((d) => { d.open = false; });
  }
});
