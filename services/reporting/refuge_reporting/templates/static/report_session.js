// Trade the access token for the report pages' cookie, then open the report.
// The token is sent once, in a header; it never goes into a URL.
document.getElementById("open-report").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const status = document.getElementById("status");
  const response = await fetch("/reports/session", {
    method: "POST",
    headers: { Authorization: "Bearer " + form.token.value.trim() },
    credentials: "same-origin",
  });
  if (response.status !== 204) {
    const body = await response.json().catch(() => ({}));
    status.textContent = body.detail || "refused (" + response.status + ")";
    return;
  }
  form.token.value = "";
  window.location.assign("/reports/annual/" + encodeURIComponent(form.year.value) + "?lang=" + form.lang.value);
});
