// Progress of a running job: polls the JSON status the element names and fills its
// <progress>; reloads the page when the job has finished. External so the
// Content-Security-Policy can forbid inline scripts.
(function () {
  const box = document.querySelector("[data-status-url]");
  if (!box) {
    return;
  }
  const bar = box.querySelector("progress");
  const label = box.querySelector("[data-progress-text]");
  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) {
        const state = await response.json();
        const job = state.job;
        if (job.total) {
          bar.max = job.total;
          bar.value = job.done;
        }
        label.textContent = job.done + " / " + job.total;
        if (job.status !== "queued" && job.status !== "running") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // a dropped request is retried on the next tick
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 500);
})();
