// Wires the studio page; the views arrive with the studio page issue.
const root = document.getElementById("studio");
root.dataset.ready = "true";
