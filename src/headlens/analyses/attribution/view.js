/* headlens report: the attribution section's own figures (analyses/attribution/view.py gives their data;
 * report.js calls them with its helpers U, see html.section_scripts):
 * - output(U, s, o, v, n), per stored output: the per-layer curves of one statistic per method with their CIs,
 *   and the method x method agreement matrix of one layer (mean Spearman rho, CI in the tooltip);
 * - section(U, s, data), once: the per-sentence view of the stored maps (sentence, method and layer chosen in the
 *   view; hovering, clicking or focusing an output token shades the source tokens by their attribution; arrow keys
 *   move between output tokens) and, when the report compares two runs, the pre/post panel: each method's
 *   attribution shares per layer in both runs, with the comparison's verdict per layer.
 * Everything reaches the page through textContent / setAttribute, as in report.js. */
var HEADLENS_SECTION_VIEWS = typeof HEADLENS_SECTION_VIEWS === "undefined" ? {} : HEADLENS_SECTION_VIEWS;
HEADLENS_SECTION_VIEWS.attribution = (function () {
  "use strict";
  var BLUES = [[255, 255, 255], [31, 95, 168]];
  var PREFIX = "attr_";

  function tokenStyle(e) { e.style.display = "inline-block"; e.style.margin = "2px"; e.style.padding = "2px 5px"; e.style.borderRadius = "3px"; return e; }
  function layerLabels(n) { var r = []; for (var i = 0; i < n; i++) r.push("L" + (i + 1)); return r; }
  function interval(c) { return c ? U0.fmt(c[0]) + (c[1] !== null && c[1] !== undefined ? " [" + U0.fmt(c[1]) + ", " + U0.fmt(c[2]) + "]" : "") : "n/a"; }
  var U0 = null;  // the helpers of the current call (interval's formatting)

  // series: name -> per layer [mean, low, high] or null; opts: {id, yLabel, dashed(name), color(name)}
  function curveChart(U, series, labels, opts) {
    var w = 540, h = 260, l = 52, b = 28, t = 24, r = 10, names = Object.keys(series), all = [];
    names.forEach(function (k) { series[k].forEach(function (c) { if (c) c.forEach(function (v) { if (v !== null && v !== undefined) all.push(v); }); }); });
    var lo = all.length ? Math.min(0, Math.min.apply(null, all)) : 0, hi = all.length ? Math.max.apply(null, all) : 1;
    if (hi <= lo) hi = lo + 1;
    var g = U.sv("svg", { width: w, height: h, id: opts.id, "class": "chart", role: "img", "aria-label": opts.yLabel + " per layer" });
    var n = labels.length;
    function X(i) { return l + (n > 1 ? i / (n - 1) : 0.5) * (w - l - r); }
    function Y(v) { return t + (1 - (v - lo) / (hi - lo)) * (h - t - b); }
    U.add(g, U.sv("line", { x1: l, y1: h - b, x2: w - r, y2: h - b, stroke: "#999" }), U.sv("line", { x1: l, y1: t, x2: l, y2: h - b, stroke: "#999" }));
    [lo, (lo + hi) / 2, hi].forEach(function (v) { U.add(g, U.sv("text", { x: l - 4, y: Y(v) + 3, "class": "axis", "text-anchor": "end" }, U.fmt(v))); });
    labels.forEach(function (lab, i) { U.add(g, U.sv("text", { x: X(i), y: h - b + 14, "class": "axis", "text-anchor": "middle" }, lab)); });
    U.add(g, U.sv("text", { x: 4, y: 12, "class": "axis" }, opts.yLabel));
    names.forEach(function (k) {
      var color = opts.color(k), line = U.sv("g", { "class": "curve", "data-series": k });
      var pts = series[k].map(function (c, i) { return c && c[0] !== null ? X(i).toFixed(1) + "," + Y(c[0]).toFixed(1) : null; }).filter(Boolean);
      var attrs = { points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2 };
      if (opts.dashed && opts.dashed(k)) attrs["stroke-dasharray"] = "5,4";
      U.add(line, U.sv("polyline", attrs));
      series[k].forEach(function (c, i) {
        if (!c || c[0] === null) return;
        if (c[1] !== null && c[1] !== undefined && c[2] !== null && c[2] !== undefined) {
          U.add(line, U.sv("line", { x1: X(i), x2: X(i), y1: Y(c[1]), y2: Y(c[2]), stroke: color, "stroke-width": 1.5, "class": "ci" }));
        }
        var dot = U.sv("circle", { cx: X(i), cy: Y(c[0]), r: 3.5, fill: color, "class": "point", "data-layer": i, "data-mean": c[0] });
        U.tooltip(dot, function () { return [k + ", " + labels[i], interval(c)]; });
        U.add(line, dot);
      });
      U.add(g, line);
    });
    var wrap = U.el("div"), leg = U.el("div", { "class": "legend" });
    names.forEach(function (k) {
      var it = U.el("span"), sw = U.el("span", { "class": "swatch" });
      sw.style.backgroundColor = opts.color(k);
      U.add(it, sw, document.createTextNode(k)); U.add(leg, it);
    });
    U.add(wrap, g, leg);
    return wrap;
  }
  function methodColor(U, methods) { return function (k) { var m = k.split(" ")[0]; return U.categorical[Math.max(0, methods.indexOf(m)) % 10]; }; }

  // the method x method agreement matrix of one layer: cells [mean, low, high], the diagonal null
  function agreementMatrix(U, methods, cells, id) {
    var cw = 86, ch = 34, left = 96, top = 26;
    var g = U.sv("svg", { width: left + methods.length * cw + 6, height: top + methods.length * ch + 6, id: id, "class": "heatmap", role: "img",
      "aria-label": "mean Spearman rho between the methods' rows" });
    methods.forEach(function (m, i) {
      U.add(g, U.sv("text", { x: left + i * cw + cw / 2, y: 16, "class": "axis", "text-anchor": "middle" }, m));
      U.add(g, U.sv("text", { x: left - 6, y: top + i * ch + ch / 2 + 4, "class": "axis", "text-anchor": "end" }, m));
    });
    methods.forEach(function (a, i) {
      methods.forEach(function (b, j) {
        var c = cells[i][j], v = i === j ? 1 : (c ? c[0] : null);
        var rect = U.sv("rect", { x: left + j * cw, y: top + i * ch, width: cw - 1, height: ch - 1, "class": "cell agree-cell",
          fill: v === null ? "#eeeeee" : U.diverging(v), "data-a": a, "data-b": b, "data-mean": v === null ? "" : v });
        var lines = function () { return i === j ? [a + ": itself"] : [a + " ~ " + b, "mean rho " + interval(c)]; };
        rect.setAttribute("aria-label", lines().join("; "));
        U.tooltip(rect, lines);
        U.add(g, rect, U.sv("text", { x: left + j * cw + cw / 2, y: top + i * ch + ch / 2 + 4, "class": "axis", "text-anchor": "middle" },
          i === j ? "1" : (c ? U.fmt(c[0]) : "n/a")));
      });
    });
    var wrap = U.el("div", { "class": "heatmap-wrap" });
    U.add(wrap, g, U.legendBar({ lo: -1, hi: 1, color: function (x) { return U.diverging(x); } }));
    return wrap;
  }

  function output(U, s, o, v, n) {
    U0 = U;
    var f = v.figures;
    if (!f) return;
    var stats = Object.keys(f.curves), labels = layerLabels(U.layers);
    if (stats.length) {
      var methods = Object.keys(f.curves[stats[0]]);
      U.add(s, U.el("h4", null, "per-layer curves: one statistic per method, 95% CI over sentences"));
      var controls = U.el("div", { "class": "controls" }), holder = U.el("div"), desc = U.el("p", { "class": "note" });
      var drawCurves = function (stat) {
        holder.textContent = "";
        desc.textContent = (f.stat_text[stat] || stat) + (stat === "self" ? "; the context share is 1 - self." : ".");
        U.add(holder, curveChart(U, f.curves[stat], labels, { id: "attr-curves-" + n, yLabel: stat === "distance" ? "words" : "share", color: methodColor(U, methods) }));
      };
      var sel = U.select("statistic", stats.map(function (x) { return { value: x, text: x }; }), drawCurves, "attr-stat-" + n);
      U.add(controls, sel.node); U.add(s, controls, desc, holder);
      sel.select.value = stats.indexOf("self") >= 0 ? "self" : stats[0];
      drawCurves(sel.select.value);
    }
    if (f.agreement && f.agreement.methods.length) {
      var a = f.agreement;
      U.add(s, U.el("h4", null, "agreement between methods: mean Spearman rho of their rows (hover for the 95% CI)"));
      var ac = U.el("div", { "class": "controls" }), ah = U.el("div");
      var lsel = U.select("layer", labels.map(function (x, i) { return { value: i, text: x }; }), function (l) {
        ah.textContent = ""; U.add(ah, agreementMatrix(U, a.methods, a.layers[+l], "attr-agreement-" + n));
      }, "attr-agreement-layer-" + n);
      U.add(ac, lsel.node); U.add(s, ac, ah);
      lsel.select.value = String(U.layers - 1);
      U.add(ah, agreementMatrix(U, a.methods, a.layers[U.layers - 1], "attr-agreement-" + n));
    }
  }

  // -- the per-sentence view ---------------------------------------------------------------------
  function sentenceView(U, s, data) {
    U.add(s, U.el("h3", null, "per-sentence attribution (stored maps)"));
    U.note(s, "Pick a sentence, a method and a layer; hover, click or focus an output token (arrow keys move between them) to shade the input tokens by their share of its attribution, rolled out to that layer (darkest: the row's largest share). " +
      "Each row of a rolled-out method sums to 1; attention flow's rows are max-flow values and do not." + (data.more ? " " + data.more + " more stored sentences are not embedded." : ""));
    var cur = { s: 0, m: null, l: 0, i: 0 }, cache = {};
    var controls = U.el("div", { "class": "controls" });
    var sSel = U.select("sentence", data.sentences.map(function (x, i) {
      return { value: i, text: "#" + x.id + ": " + (x.text.length > 70 ? x.text.slice(0, 70) + "\u2026" : x.text) };
    }), function (v) { cur.s = +v; reset(); }, "attr-sentence");
    var mHolder = U.el("span"), lHolder = U.el("span");
    U.add(controls, sSel.node, mHolder, lHolder);
    var outRow = U.el("div", { "class": "attr-tokens", id: "attr-outputs", role: "group", "aria-label": "output tokens" });
    var srcRow = U.el("div", { "class": "attr-tokens", id: "attr-sources", "aria-live": "polite", "aria-label": "input tokens, shaded" });
    var info = U.el("p", { "class": "note", id: "attr-info" });
    U.add(s, controls, U.el("h4", null, "output token (the row)"), outRow, U.el("h4", null, "input tokens, shaded by their share"), srcRow, info);

    function values(x, m) { var k = x.id + "/" + m; if (!cache[k]) cache[k] = U.decodeF16(x.maps[m]); return cache[k]; }
    function reset() {
      var x = data.sentences[cur.s];
      if (x.methods.indexOf(cur.m) < 0) cur.m = x.methods[0];
      cur.l = Math.min(cur.l, x.layers - 1); cur.i = 0;
      mHolder.textContent = ""; lHolder.textContent = "";
      var mSel = U.select("method", x.methods.map(function (m) { return { value: m, text: data.titles[m] || m }; }), function (v) { cur.m = v; shade(); }, "attr-method");
      var lSel = U.select("layer", layerLabels(x.layers).map(function (t, i) { return { value: i, text: t }; }), function (v) { cur.l = +v; shade(); }, "attr-layer");
      mSel.select.value = cur.m; lSel.select.value = String(cur.l);
      U.add(mHolder, mSel.node); U.add(lHolder, lSel.node);
      outRow.textContent = "";
      x.tokens.forEach(function (t, i) {
        var b = U.el("button", { type: "button", "class": "attr-out", "data-i": i, tabindex: i === 0 ? "0" : "-1", "aria-pressed": "false",
          "aria-label": "output token " + (i + 1) + ": " + t }, t);
        b.addEventListener("mouseenter", function () { pick(i); });
        b.addEventListener("click", function () { pick(i); });
        b.addEventListener("focus", function () { pick(i); });
        b.addEventListener("keydown", function (e) {
          var d = { ArrowLeft: -1, ArrowRight: 1, Home: -i, End: x.tokens.length - 1 - i }[e.key];
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(i); return; }
          if (d === undefined) return;
          e.preventDefault();
          var to = Math.max(0, Math.min(x.tokens.length - 1, i + d));
          outRow.children[to].focus();
        });
        U.add(outRow, tokenStyle(b));
      });
      srcRow.textContent = "";
      x.tokens.forEach(function (t, j) { U.add(srcRow, tokenStyle(U.el("span", { "class": "attr-src", "data-j": j }, t))); });
      shade();
    }
    function pick(i) { cur.i = i; shade(); }
    function shade() {
      var x = data.sentences[cur.s], n = x.tokens.length, a = values(x, cur.m), base = (cur.l * n + cur.i) * n, top = 0, sum = 0, j;
      for (j = 0; j < n; j++) { top = Math.max(top, a[base + j]); sum += a[base + j]; }
      Array.prototype.forEach.call(outRow.children, function (b, k) {
        var on = k === cur.i;
        b.setAttribute("aria-pressed", on ? "true" : "false"); b.setAttribute("tabindex", on ? "0" : "-1"); b.classList.toggle("selected", on);
        b.style.outline = on ? "2px solid #1f5fa8" : "";
      });
      Array.prototype.forEach.call(srcRow.children, function (sp, k) {
        var v = a[base + k], t = top > 0 ? Math.max(0, v) / top : 0;
        sp.style.backgroundColor = U.lerp(BLUES, t);
        sp.style.color = t > 0.55 ? "#fff" : "";
        sp.setAttribute("data-value", v.toFixed(4));
        sp.setAttribute("aria-label", x.tokens[k] + ": " + U.fmt(v));
        sp.setAttribute("title", x.tokens[k] + ": " + U.fmt(v));
      });
      info.setAttribute("data-sum", sum.toFixed(4));
      info.setAttribute("data-normalised", data.normalised[cur.m] ? "1" : "0");
      info.textContent = (data.titles[cur.m] || cur.m) + ", layer " + (cur.l + 1) + ": \u201c" + x.tokens[cur.i] + "\u201d (token " + (cur.i + 1) + " of " + n +
        ") takes " + U.fmt(top) + " at most from one input token; its row sums to " + U.fmt(sum) + (data.normalised[cur.m] ? "" : " (flow: not a share)") + ". From " + x.file + ".";
    }
    reset();
  }

  // -- the pre/post panel: the comparison's attribution metrics per layer --------------------------
  function comparePanel(U, s) {
    var methods = Object.keys(((U.data.section_data || {}).attribution || {}).titles || {});
    (U.data.sections.compare || []).forEach(function (o, n) {
      var rows = (o.view.layers || []).filter(function (r) { return r[0].indexOf(PREFIX) === 0 && r[0].indexOf(PREFIX + "agree_") !== 0; });
      U.add(s, U.el("h3", null, "before / after: attribution per layer (" + o.name + ")"));
      var v = o.view;
      if (!rows.length) { U.note(s, "This comparison holds no attribution metric (compare two runs made with --analyses attribution).", "absent"); return; }
      U.note(s, "Before: " + ((v.before || {}).path || "?") + " (" + ((v.before || {}).model || "?") + ", dashed); after: " + ((v.after || {}).path || "?") + " (" + ((v.after || {}).model || "?") + ", solid). Per layer, the mean over sentences; the verdict is the comparison's (changed / equivalent / inconclusive, corrected over its family of layers).");
      var byStat = {};
      rows.forEach(function (r) {
        var rest = r[0].slice(PREFIX.length), m = rest.split("_")[0], stat = rest.slice(m.length + 1);
        (byStat[stat] = byStat[stat] || []).push({ method: m, layer: r[1], before: r[2], after: r[3], delta: r[4], q: r[5], verdict: r[7] || "" });
      });
      var stats = Object.keys(byStat), controls = U.el("div", { "class": "controls" }), holder = U.el("div", { id: "attr-prepost-" + n });
      var draw = function (stat) {
        var series = {}, found = [];
        byStat[stat].forEach(function (r) {
          if (found.indexOf(r.method) < 0) { found.push(r.method); series[r.method + " before"] = []; series[r.method + " after"] = []; }
          series[r.method + " before"][r.layer] = [r.before, null, null];
          series[r.method + " after"][r.layer] = [r.after, null, null];
        });
        Object.keys(series).forEach(function (k) { for (var i = 0; i < U.layers; i++) if (!series[k][i]) series[k][i] = null; });
        holder.textContent = "";
        U.add(holder, curveChart(U, series, layerLabels(U.layers), { id: "attr-prepost-chart-" + n, yLabel: stat,
          color: methodColor(U, methods.length ? methods : found), dashed: function (k) { return / before$/.test(k); } }));
        var table = U.rowsTable(["method", "layer", "before", "after", "delta", "q", "verdict"], byStat[stat].map(function (r) {
          return [r.method, "L" + (r.layer + 1), r.before, r.after, r.delta, r.q, r.verdict];
        }), ["str", "str", "num", "num", "num", "num", "str"], { highlight: function (i, d) { return d[6][i] === "changed"; } });
        table.setAttribute("id", "attr-prepost-table-" + n);
        U.add(holder, table);
      };
      var sel = U.select("statistic", stats.map(function (x) { return { value: x, text: x }; }), draw, "attr-prepost-stat-" + n);
      U.add(controls, sel.node); U.add(s, controls, holder);
      sel.select.value = stats.indexOf("self") >= 0 ? "self" : stats[0];
      draw(sel.select.value);
    });
  }

  function section(U, s, data) {
    U0 = U;
    if (data && data.sentences && data.sentences.length) sentenceView(U, s, data);
    else U.note(s, "No per-sentence view: the run stored no attribution maps (headlens run --analyses attribution --store-maps IDS stores them).", "absent");
    comparePanel(U, s);
  }

  return { output: output, section: section };
})();
