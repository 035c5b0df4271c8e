/* headlens report, the layers section's own script (Analysis.script, html.section_scripts): the
 * interactive PCA scatter of a layers output (analyses/layers/pca.py, view.py):
 * the sampled words' first two principal components at one layer, coloured by UPOS; a selector picks
 * the layer, hovering a point shows its word and sentence, the legend's buttons hide or show a UPOS
 * class. spec: { layers, coords: [layer][x0, y0, x1, y1, ...], form, upos, sentence (index into texts),
 * texts }. Everything reaches the page through textContent / setAttribute, as in report.js. */
function headlensScatter(U, spec, id) {
  "use strict";
  var el = U.el, sv = U.sv, add = U.add;
  var COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354"];
  var W = 560, HT = 440, PAD = 14, n = spec.form.length;
  var counts = {};
  spec.upos.forEach(function (t) { counts[t] = (counts[t] || 0) + 1; });
  var classes = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : 1); });
  var colour = {};
  classes.forEach(function (t, i) { colour[t] = COLOURS[i % COLOURS.length]; });
  var hidden = {};
  var box = el("div", { "class": "pca-scatter", id: id });
  var controls = el("div", { "class": "controls" });
  var layerSel = U.select("layer", Array.apply(null, Array(spec.layers)).map(function (_, l) {
    return { value: l, text: l === 0 ? "0 (embeddings)" : String(l) };
  }), function (v) { draw(+v); }, id + "-layer");
  add(controls, layerSel.node);
  var g = sv("svg", { width: W, height: HT, "class": "pca-plot", id: id + "-plot", role: "img", "data-layer": 0,
    "aria-label": "PCA of " + n + " sampled word vectors, coloured by UPOS" });
  add(g, sv("rect", { x: 0.5, y: 0.5, width: W - 1, height: HT - 1, fill: "none", stroke: "#d8dde3" }));
  var dots = [];
  for (var i = 0; i < n; i++) {
    var c = sv("circle", { r: 2.6, fill: colour[spec.upos[i]], "class": "pca-point", "data-point": i, "data-upos": spec.upos[i] });
    (function (i) {
      U.tooltip(c, function () { return [spec.form[i] + "  (" + spec.upos[i] + ")", spec.texts[spec.sentence[i]]]; });
    })(i);
    dots.push(c);
    add(g, c);
  }
  var legend = el("div", { "class": "legend pca-legend", role: "group", "aria-label": "UPOS classes: click to hide or show" });
  classes.forEach(function (t) {
    var b = el("button", { type: "button", "class": "pca-class", "data-upos": t, "aria-pressed": "true" });
    var sw = el("span", { "class": "swatch" });
    sw.style.backgroundColor = colour[t];
    add(b, sw, document.createTextNode(t + " (" + counts[t] + ")"));
    b.addEventListener("click", function () {
      hidden[t] = !hidden[t];
      b.setAttribute("aria-pressed", hidden[t] ? "false" : "true");
      dots.forEach(function (d, k) { if (spec.upos[k] === t) d.setAttribute("visibility", hidden[t] ? "hidden" : "visible"); });
    });
    add(legend, b);
  });
  function draw(layer) {
    var xy = spec.coords[layer], lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
    for (var k = 0; k < n; k++) for (var a = 0; a < 2; a++) {
      lo[a] = Math.min(lo[a], xy[2 * k + a]); hi[a] = Math.max(hi[a], xy[2 * k + a]);
    }
    var sx = (W - 2 * PAD) / ((hi[0] - lo[0]) || 1), sy = (HT - 2 * PAD) / ((hi[1] - lo[1]) || 1);
    dots.forEach(function (d, k) {
      d.setAttribute("cx", (PAD + (xy[2 * k] - lo[0]) * sx).toFixed(1));
      d.setAttribute("cy", (HT - PAD - (xy[2 * k + 1] - lo[1]) * sy).toFixed(1));
    });
    g.setAttribute("data-layer", layer);
  }
  draw(0);
  add(box, controls, g, legend);
  return box;
}

var HEADLENS_SECTION_VIEWS = typeof HEADLENS_SECTION_VIEWS === "undefined" ? {} : HEADLENS_SECTION_VIEWS;
HEADLENS_SECTION_VIEWS.layers = {
  // per stored output (report.js blocks): the scatter of an output that has one (``v.scatter``, view.py)
  output: function (U, s, o, v) {
    if (!v.scatter) return;
    U.add(s, U.el("h4", null, "PCA of the sampled word vectors per layer, by UPOS"));
    U.add(s, headlensScatter(U, v.scatter, "layers-pca-" + String(o.name).replace(/[^A-Za-z0-9_-]/g, "_")));
  }
};
