// modelog web UI: progressive enhancement only (every page works without it).
// The time-travel slider shows the position it points at while it moves.
document.addEventListener("DOMContentLoaded", function () {
  var slider = document.getElementById("at_position");
  var shown = document.getElementById("position-value");
  if (slider && shown) {
    slider.addEventListener("input", function () { shown.textContent = slider.value; });
  }
});
