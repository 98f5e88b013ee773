/* evalkit report: draws the views from window.EVALKIT_REPORT (data.js). Plain JavaScript, nothing
   fetched. Every number is printed from its `shown` text, formatted by evalkit in Python with the same
   rounding as the command line: this script never rounds a figure. Store text is set as textContent,
   never parsed as HTML. Deep links: #checkpoint=NAME, #prompt=HASH, #ratings. */
(function () {
  "use strict";
  var R = window.EVALKIT_REPORT;
  var view = document.getElementById("view");
  var DASH = "\u2013";
  var SVG_NAMESPACE = "http://www.w3.org/2000/svg"; /* a name for the SVG vocabulary, never fetched */
  var RATINGS = [["fail", "Fail"], ["pass", "Pass"], ["excellent", "Excellent"]]; /* LIMA's order, worst first */
  var RATING_TITLES = { fail: "Fail", pass: "Pass", excellent: "Excellent" };
  var rated = R.ratings || []; /* absent from reports written before ratings were shown */

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "cls") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NAMESPACE, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function table(columns, rows, rowClass) {
    var head = el("tr", {}, columns.map(function (c) { return el("th", { text: c.title }); }));
    var body = rows.map(function (row) {
      var tr = el("tr", {}, columns.map(function (c) {
        var value = c.value(row);
        var cell = el("td", c.num ? { cls: "num" } : {});
        if (value instanceof Node) cell.appendChild(value); else cell.textContent = value === null || value === undefined ? DASH : String(value);
        return cell;
      }));
      var extra = rowClass ? rowClass(row) : "";
      if (extra) tr.className = extra;
      return tr;
    });
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, body)]);
  }

  function judgeLabel(key) {
    var found = R.judges.filter(function (j) { return j.key === key; })[0];
    return found ? found.label : key;
  }

  function link(text, hash) { return el("a", { href: "#" + hash, text: text }); }

  function checkpointLink(model) { return link(model, "checkpoint=" + encodeURIComponent(model)); }

  function modelLink(name) {
    /* a checkpoint of a training run links to its run; a baseline has no run to show */
    var found = R.models.filter(function (m) { return m.name === name; })[0];
    return found && found.run ? checkpointLink(name) : name;
  }

  function shown(row, field) { return row.shown && row.shown[field] !== undefined ? row.shown[field] : DASH; }

  function interval(row) { return "[" + shown(row, "ci_low") + ", " + shown(row, "ci_high") + "]"; }

  /* ---- leaderboard ---- */
  function leaderboard() {
    var parts = [el("h2", { text: "Leaderboard" }),
      el("p", { cls: "muted", text: "Win rates in percent (a tie counts half), with the standard error and the " +
        Math.round(R.bootstrap.level * 100) + "% bootstrap interval over prompts (" + R.bootstrap.resamples +
        " resamples), as evalkit stats summary computes them." })];
    R.leaderboard.comparisons.forEach(function (t) {
      parts.push(el("h3", { text: judgeLabel(t.judge) + " \u00b7 vs " + t.baseline }));
      parts.push(table([
        { title: "Model", value: function (r) { return r.run ? checkpointLink(r.model) : r.model; } },
        { title: "Decoding", value: function (r) { return r.decoding_label; } },
        { title: "Win rate", num: true, value: function (r) { return shown(r, "win_rate"); } },
        { title: "\u00b1 SE", num: true, value: function (r) { return shown(r, "standard_error"); } },
        { title: "Interval", num: true, value: interval },
        { title: "Win %", num: true, value: function (r) { return shown(r, "win_pct"); } },
        { title: "Tie %", num: true, value: function (r) { return shown(r, "tie_pct"); } },
        { title: "Loss %", num: true, value: function (r) { return shown(r, "loss_pct"); } },
        { title: "LC win rate", num: true, value: function (r) {
          return r.length_controlled_winrate === null && r.lc_withheld ? "withheld" : shown(r, "length_controlled_winrate"); } },
        { title: "n", num: true, value: function (r) { return r.n; } },
        { title: "Invalid", num: true, value: function (r) { return r.n_invalid; } }
      ], t.rows));
      var withheld = t.rows.filter(function (r) { return r.lc_withheld; });
      if (withheld.length) parts.push(el("p", { cls: "muted", text: "LC withheld: " + withheld[0].lc_withheld }));
    });
    R.leaderboard.grades.forEach(function (t) {
      parts.push(el("h3", { text: judgeLabel(t.judge) + " \u00b7 mean grade" }));
      parts.push(table([
        { title: "Model", value: function (r) { return r.run ? checkpointLink(r.model) : r.model; } },
        { title: "Decoding", value: function (r) { return r.decoding_label; } },
        { title: "Mean", num: true, value: function (r) { return shown(r, "mean"); } },
        { title: "Interval", num: true, value: interval },
        { title: "n", num: true, value: function (r) { return r.n; } },
        { title: "Invalid", num: true, value: function (r) { return r.n_invalid; } }
      ], t.rows));
    });
    if (!R.leaderboard.comparisons.length && !R.leaderboard.grades.length) parts.push(el("p", { text: "No judged answers in the store." }));
    return parts;
  }

  /* ---- checkpoints ---- */
  function plot(series, window_, picked, selectedEpoch) {
    var W = 460, H = 220, left = 44, right = 12, top = 10, bottom = 30;
    var points = series.points;
    var epochs = points.map(function (p) { return p.epoch; });
    var lo = Math.min(window_[0], Math.min.apply(null, epochs)), hi = Math.max(window_[1], Math.max.apply(null, epochs));
    var values = [];
    points.forEach(function (p) { [p.value, p.low, p.high].forEach(function (v) { if (v !== null) values.push(v); }); });
    if (!values.length) return null; /* no valid figure at any epoch: nothing to draw */
    var vmin = series.percent ? 0 : Math.min.apply(null, values), vmax = series.percent ? 100 : Math.max.apply(null, values);
    if (vmax === vmin) { vmax += 1; vmin -= 1; }
    function x(e) { return left + (hi === lo ? 0.5 : (e - lo) / (hi - lo)) * (W - left - right); }
    function y(v) { return top + (1 - (v - vmin) / (vmax - vmin)) * (H - top - bottom); }
    var root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
    root.appendChild(svg("rect", { x: x(window_[0]) - 6, y: top, width: x(window_[1]) - x(window_[0]) + 12, height: H - top - bottom, fill: "#eef3fb" }));
    root.appendChild(svg("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, stroke: "#9aa3b2" }));
    root.appendChild(svg("line", { x1: left, y1: top, x2: left, y2: H - bottom, stroke: "#9aa3b2" }));
    [vmin, (vmin + vmax) / 2, vmax].forEach(function (v) {
      var label = svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = series.percent ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
      root.appendChild(label);
    });
    epochs.forEach(function (e) {
      var label = svg("text", { x: x(e), y: H - bottom + 14, "text-anchor": "middle" });
      label.textContent = String(e);
      root.appendChild(label);
    });
    if (picked !== null) root.appendChild(svg("line", { x1: x(picked), y1: top, x2: x(picked), y2: H - bottom, stroke: "#2f8a3a", "stroke-dasharray": "4 3" }));
    var path = points.filter(function (p) { return p.value !== null; }).map(function (p, i) { return (i ? "L" : "M") + x(p.epoch) + " " + y(p.value); }).join(" ");
    if (path) root.appendChild(svg("path", { d: path, fill: "none", stroke: "#2456b3", "stroke-width": 1.5 }));
    points.forEach(function (p) {
      if (p.low !== null && p.high !== null) root.appendChild(svg("line", { x1: x(p.epoch), y1: y(p.low), x2: x(p.epoch), y2: y(p.high), stroke: "#7d93c4", "stroke-width": 2 }));
      if (p.value === null) return;
      var dot = svg("circle", { cx: x(p.epoch), cy: y(p.value), r: p.epoch === selectedEpoch ? 5 : 3.2, fill: p.epoch === selectedEpoch ? "#d08a00" : "#2456b3" });
      var tip = svg("title", {});
      tip.textContent = p.model + ": " + p.shown + " [" + p.shown_low + ", " + p.shown_high + "]";
      dot.appendChild(tip);
      root.appendChild(dot);
    });
    var caption = svg("text", { x: (W + left) / 2, y: H - 2, "text-anchor": "middle" });
    caption.textContent = "epoch";
    root.appendChild(caption);
    return el("div", { cls: "plot" }, [el("h4", { text: series.name }), root]);
  }

  function decisionBlock(run) {
    var d = run.decision;
    if (!d) return el("p", { text: "No checkpoint has been picked for this run yet (evalkit pick)." });
    var rows = d.shown.rows;
    var parts = [
      el("p", {}, [el("strong", { text: (d.decided === false ? "Took (tied) " : "Picked ") }), checkpointLink(runModel(run, d.chosen)),
        " (epoch " + d.epoch + ", policy " + d.policy + ", decided " + d.decided_at + ")"]),
      el("p", { text: d.reason || "" })
    ];
    if (d.shown.versus_runner_up) parts.push(el("p", { text: "Best vs runner-up: " + d.shown.versus_runner_up }));
    if (d.shown.power) parts.push(el("p", { text: "Power: " + d.shown.power }));
    parts.push(table([
      { title: "Checkpoint", value: function (r) { return r.name; } },
      { title: "Epoch", num: true, value: function (r) { return r.epoch; } },
      { title: "Win rate", num: true, value: function (r) { return r.win_rate; } },
      { title: "Likert", num: true, value: function (r) { return r.likert_mean; } },
      { title: "Valid", num: true, value: function (r) { return r.n_valid; } },
      { title: "", value: function (r) { return r.tied_with_best ? "tied with best" : ""; } }
    ], rows, function (r) { return r.name === d.chosen ? "picked" : ""; }));
    var details = el("details", {}, [el("summary", { text: "Decision record (as stored)" }), el("pre", { text: JSON.stringify(d.record, null, 2) })]);
    parts.push(details);
    return el("div", { cls: "decision" + (d.decided === false ? " tied" : "") }, parts);
  }

  function runModel(run, name) {
    /* the decision names the checkpoint by its folder ("epoch-9"); the store by its model name */
    var found = R.models.filter(function (m) { return m.run === run.run && (m.name === name || m.name.split("/").pop() === name); })[0];
    return found ? found.name : name;
  }

  function checkpointView(run, selected) {
    var selectedModel = selected ? R.models.filter(function (m) { return m.name === selected; })[0] : null;
    var selectedEpoch = selectedModel ? selectedModel.epoch : null;
    var parts = [el("h2", { text: "Run " + run.name }), el("p", { cls: "muted", text: run.run })];
    if (selectedModel) {
      parts.push(el("h3", { text: "Checkpoint " + selectedModel.name + " (epoch " + selectedEpoch + ")" }));
      var figures = [];
      run.series.forEach(function (s) {
        s.points.forEach(function (p) { if (p.model === selectedModel.name) figures.push({ name: s.name, p: p }); });
      });
      parts.push(table([
        { title: "Figure", value: function (f) { return f.name; } },
        { title: "Value", num: true, value: function (f) { return f.p.shown; } },
        { title: "Interval", num: true, value: function (f) { return "[" + f.p.shown_low + ", " + f.p.shown_high + "]"; } }
      ], figures));
    }
    parts.push(el("h3", { text: "By epoch" }));
    parts.push(el("p", { cls: "muted", text: "Shaded: the selection window, epochs " + run.window[0] + DASH + run.window[1] +
      ". Bars: " + Math.round(R.bootstrap.level * 100) + "% bootstrap intervals over prompts. Dashed line: the picked checkpoint." }));
    parts.push(el("div", { cls: "plots" }, run.series.map(function (s) { return plot(s, run.window, run.picked_epoch, selectedEpoch); })));
    parts.push(el("h3", { text: "Decision" }));
    parts.push(decisionBlock(run));
    return parts;
  }

  function checkpoints(selected) {
    if (!R.checkpoints.length) return [el("h2", { text: "Checkpoints" }), el("p", { text: "No checkpoints with a training run in the store." })];
    var run = R.checkpoints[0];
    if (selected) {
      var model = R.models.filter(function (m) { return m.name === selected; })[0];
      if (!model) return [el("h2", { text: "Checkpoints" }), el("p", { text: "No checkpoint named " + selected + " in this report." })];
      run = R.checkpoints.filter(function (c) { return c.run === model.run; })[0] || run;
    }
    var parts = [];
    if (R.checkpoints.length > 1) {
      parts.push(el("p", {}, ["Runs: "].concat(R.checkpoints.map(function (c) {
        var first = R.models.filter(function (m) { return m.run === c.run; })[0];
        return el("span", {}, [first ? checkpointLink(first.name) : c.name, " "]);
      }))));
    }
    return parts.concat(checkpointView(run, selected));
  }

  /* ---- prompts ---- */
  function prompts() {
    var search = el("input", { type: "search", placeholder: "filter prompts" });
    var list = el("div", {});
    function fill() {
      var needle = search.value.toLowerCase();
      list.textContent = "";
      list.appendChild(table([
        { title: "Prompt", value: function (p) { return link(p.instruction.length > 140 ? p.instruction.slice(0, 140) + "\u2026" : p.instruction, "prompt=" + p.hash); } },
        { title: "Comparisons", num: true, value: function (p) { return p.comparisons.length; } },
        { title: "Graded answers", num: true, value: function (p) { return p.grades.length; } },
        { title: "Rated answers", num: true, value: function (p) { return (p.ratings || []).length; } }
      ], R.prompts.filter(function (p) { return !needle || p.instruction.toLowerCase().indexOf(needle) >= 0; })));
    }
    search.addEventListener("input", fill);
    fill();
    return [el("h2", { text: "Prompts (" + R.prompts.length + ")" }), search, list];
  }

  function answerBox(title, id) {
    var text = R.answers[String(id)];
    return el("div", { cls: "answer" }, [el("h4", { text: title }), el("pre", { text: text === undefined ? DASH : text })]);
  }

  function promptView(hash) {
    var p = R.prompts.filter(function (q) { return q.hash === hash; })[0];
    if (!p) return [el("h2", { text: "Prompt" }), el("p", { text: "No prompt " + hash + " in this report." })];
    var parts = [el("h2", { text: "Prompt" }), el("p", { cls: "muted", text: p.hash })];
    p.context.forEach(function (turn) { parts.push(el("p", { cls: "muted" }, [el("strong", { text: turn.role + ": " }), turn.content])); });
    parts.push(el("div", { cls: "question" }, [el("pre", { text: p.instruction })]));
    if (p.reference) parts.push(el("details", {}, [el("summary", { text: "Reference answer" }), el("pre", { text: p.reference })]));
    p.comparisons.forEach(function (c) {
      var block = [el("h3", {}, [checkpointLink(c.model), " vs " + c.baseline]),
        el("div", { cls: "answers" }, [answerBox(c.model, c.answer), answerBox(c.baseline + " (baseline)", c.baseline_answer)])];
      block.push(table([
        { title: "Judge", value: function (v) { return judgeLabel(v.judge); } },
        { title: "Model answer first", value: function (v) { return v.verdict_ab !== undefined ? v.verdict_ab : (v.order === "AB" ? v.outcome : DASH); } },
        { title: "Baseline answer first", value: function (v) { return v.verdict_ba !== undefined ? v.verdict_ba : (v.order === "BA" ? v.outcome : DASH); } },
        { title: "Outcome for the model", value: function (v) { return v.outcome + (v.invalid_reason ? " (" + v.invalid_reason + ")" : ""); } }
      ], c.verdicts));
      if (c.humans.length) {
        block.push(table([
          { title: "Annotator", value: function (h) { return h.annotator; } },
          { title: "Label (shown position)", value: function (h) { return h.label; } },
          { title: "Outcome for the model", value: function (h) { return h.outcome; } }
        ], c.humans));
      }
      parts.push(el("div", { cls: "comparison" }, block));
    });
    if (p.grades.length) {
      parts.push(el("h3", { text: "Grades" }));
      parts.push(table([
        { title: "Model", value: function (g) { return checkpointLink(g.model); } },
        { title: "Judge", value: function (g) { return judgeLabel(g.judge); } },
        { title: "Scores", value: function (g) { return g.scores.map(function (s) { return s === null ? "invalid" : String(s); }).join(", "); } }
      ], p.grades));
    }
    if ((p.ratings || []).length) parts.push(el("h3", { text: "Ratings (Fail / Pass / Excellent)" }));
    (p.ratings || []).forEach(function (r) {
      parts.push(el("div", { cls: "comparison" }, [
        el("h4", {}, [modelLink(r.model), " \u00b7 rated in ", link(r.batch, "ratings")]),
        answerBox(r.model, r.answer),
        table([
          { title: "Annotator", value: function (h) { return h.annotator; } },
          { title: "Rating", value: function (h) { return RATING_TITLES[h.label] || h.label; } }
        ], r.ratings)
      ]));
    });
    return parts;
  }

  /* ---- absolute ratings (LIMA Figure 3) ---- */
  function ratingBar(row) {
    /* widths from the shares as stored, the labels from their shown text: the script never rounds */
    return el("div", { cls: "rating-bar" }, RATINGS.map(function (r) {
      var segment = el("span", { cls: "rating-" + r[0], title: r[1] + " " + row.shown[r[0]] + "%" });
      segment.style.width = (100 * row[r[0]]) + "%";
      return segment;
    }));
  }

  function ratings() {
    var parts = [el("h2", { text: "Ratings" }),
      el("p", { cls: "muted", text: "LIMA Figure 3: the share of answers rated Fail (does not meet the requirements of the prompt), " +
        "Pass (meets them) or Excellent, in percent, by the annotators and by each absolute judge, per batch." })];
    if (!rated.length) parts.push(el("p", { text: "No absolute ratings in the store (evalkit annotate create --mode absolute)." }));
    rated.forEach(function (b) {
      parts.push(el("h3", { text: b.batch + " \u00b7 " + b.prompt_set + " (" + b.n_labels + " ratings of " + b.n_items + " answers)" }));
      parts.push(table([
        { title: "Model", value: function (r) { return modelLink(r.model); } },
        { title: "Rater", value: function (r) { return r.source; } }
      ].concat(RATINGS.map(function (r) {
        return { title: r[1] + " %", num: true, value: function (row) { return row.shown[r[0]]; } };
      })).concat([
        { title: "n", num: true, value: function (r) { return r.n; } },
        { title: "", value: ratingBar }
      ]), b.shares));
      b.agreement.forEach(function (t) {
        parts.push(el("h4", { text: t.title }));
        parts.push(table(t.columns.map(function (c) { return { title: c, value: function (r) { return r[c]; } }; }), t.rows));
      });
    });
    return parts;
  }

  /* ---- agreement and judge quality ---- */
  function figureTables(title, tables, none) {
    var parts = [el("h2", { text: title })];
    if (!tables.length) parts.push(el("p", { cls: "muted", text: none }));
    tables.forEach(function (t) {
      parts.push(el("h3", { text: t.title }));
      parts.push(table(t.columns.map(function (c) { return { title: c, value: function (r) { return r[c]; } }; }), t.rows));
    });
    return parts;
  }

  function agreement() {
    return figureTables("Agreement", R.agreement, "No two raters labelled the same answers (evalkit agreement).")
      .concat(figureTables("Judge quality", R.judge_quality, "No saved judge-quality report (evalkit judge-quality --save NAME)."));
  }

  /* ---- routing ---- */
  function route() {
    var hash = decodeURIComponent(window.location.hash.replace(/^#/, ""));
    var name = hash.split("=")[0] || "leaderboard";
    var value = hash.indexOf("=") >= 0 ? hash.slice(hash.indexOf("=") + 1) : null;
    var parts;
    if (name === "checkpoint" || name === "checkpoints") { parts = checkpoints(value); name = "checkpoints"; }
    else if (name === "prompt" && value) { parts = promptView(value); name = "prompts"; }
    else if (name === "prompts") parts = prompts();
    else if (name === "agreement") parts = agreement();
    else if (name === "ratings") parts = ratings();
    else { parts = leaderboard(); name = "leaderboard"; }
    view.textContent = "";
    parts.forEach(function (part) { view.appendChild(part); });
    Array.prototype.forEach.call(document.querySelectorAll("nav a"), function (a) {
      a.className = a.getAttribute("data-view") === name ? "active" : "";
    });
    window.scrollTo(0, 0);
  }

  document.getElementById("generated").textContent = "Store " + R.generated.store + (R.generated.run ? ", run " + R.generated.run : "") +
    " \u00b7 written " + R.generated.at + " by evalkit " + R.generated.evalkit_version;
  if (rated.length) document.getElementById("ratings-link").hidden = false;
  window.addEventListener("hashchange", route);
  route();
})();
