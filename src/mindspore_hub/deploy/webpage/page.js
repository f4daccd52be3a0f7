// The page: send the photo to POST /v1/detect, draw the boxes it returns on a canvas, list them,
// and filter them with the score slider (on the page: the server returned all it found).
"use strict";

const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c"];
const els = {
  file: document.getElementById("file"), drop: document.getElementById("drop"),
  threshold: document.getElementById("threshold"), thresholdValue: document.getElementById("threshold-value"),
  key: document.getElementById("key"), keyRow: document.getElementById("key-row"),
  status: document.getElementById("status"), canvas: document.getElementById("canvas"),
  list: document.getElementById("detections"),
};
let shown = { image: null, detections: [] };

function say(text, isError) {
  els.status.textContent = text;
  els.status.className = isError ? "error" : "";
}

async function detect(file) {
  say(`Sending ${file.name || "the photo"}...`);
  let image;
  try {
    image = await createImageBitmap(file);
  } catch (error) {
    image = null; // the browser cannot show it; the server may still read it
  }
  const headers = { "Content-Type": file.type || "application/octet-stream" };
  if (els.key.value) headers["Authorization"] = `Bearer ${els.key.value}`;
  let response, body;
  try {
    response = await fetch("/v1/detect", { method: "POST", headers, body: file });
    body = await response.json();
  } catch (error) {
    say(`The server could not be reached: ${error}`, true);
    return;
  }
  if (response.status === 401) els.keyRow.hidden = false;
  if (!response.ok) {
    say(`${response.status}: ${body.error || response.statusText}`, true);
    return;
  }
  shown = { image, detections: body.detections || [] };
  draw();
  say(`${shown.detections.length} detections; the server took ${body.time_ms} ms.`);
  els.status.dataset.done = "1";
}

function draw() {
  const { image, detections } = shown;
  const threshold = Number(els.threshold.value);
  const ctx = els.canvas.getContext("2d");
  if (image) {
    els.canvas.width = image.width;
    els.canvas.height = image.height;
    ctx.drawImage(image, 0, 0);
  }
  const line = Math.max(2, Math.round(els.canvas.width / 300));
  ctx.lineWidth = line;
  ctx.font = `${Math.max(12, line * 6)}px sans-serif`;
  els.list.replaceChildren();
  detections.filter((d) => d.score >= threshold).forEach((d) => {
    const [x, y, w, h] = d.box;
    const colour = COLOURS[d.category_id % COLOURS.length];
    const label = `${d.category_name} ${d.score.toFixed(2)}`;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    const textWidth = ctx.measureText(label).width + 6;
    const textHeight = line * 6 + 4;
    const top = y >= textHeight ? y - textHeight : y;
    ctx.fillStyle = colour;
    ctx.fillRect(x, top, textWidth, textHeight);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x + 3, top + textHeight - 4);
    const item = document.createElement("li");
    item.textContent = `${label} at (${x.toFixed(0)}, ${y.toFixed(0)}) ${w.toFixed(0)}×${h.toFixed(0)}`;
    els.list.appendChild(item);
  });
}

els.file.addEventListener("change", () => { if (els.file.files[0]) detect(els.file.files[0]); });
els.threshold.addEventListener("input", () => {
  els.thresholdValue.textContent = Number(els.threshold.value).toFixed(2);
  draw();
});
["dragenter", "dragover"].forEach((type) => els.drop.addEventListener(type, (event) => {
  event.preventDefault();
  els.drop.classList.add("over");
}));
["dragleave", "drop"].forEach((type) => els.drop.addEventListener(type, (event) => {
  event.preventDefault();
  els.drop.classList.remove("over");
}));
els.drop.addEventListener("drop", (event) => {
  const file = event.dataTransfer.files[0];
  if (file) detect(file);
});
