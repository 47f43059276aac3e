// The Scan page's camera (stock/templates/stock/scan.html): "Use the camera"
// opens the phone's rear camera in the page and reads a label's QR code or
// barcode (EAN-13, UPC-A, EAN-8, Code 128). What it reads goes into the page's
// Code field and the form is sent, as a hardware scanner would: the server
// (stockapp/stock/scan.py) opens the member, whether it read a code or the
// link to a member's page that a label's QR code holds.
//
// It reads with the browser's BarcodeDetector where that reads all those
// formats, and otherwise with ZXing (static/vendor/README.md), loaded only
// then. Which one ran is left in #camera's data-reader. Without script the
// page is the typed form alone.
"use strict";
(() => {
  const camera = document.getElementById("camera");
  const form = document.querySelector("form.scan");
  if (!camera || !form) return;
  const toggle = camera.querySelector(".camera-toggle");
  const view = camera.querySelector(".camera-view");
  const field = form.elements.code;
  const notice = document.getElementById("notice");

  // The browser's names for the formats a label carries, and ZXing's.
  const FORMATS = ["qr_code", "ean_13", "upc_a", "ean_8", "code_128"];
  const ZXING_FORMATS = ["QR_CODE", "EAN_13", "UPC_A", "EAN_8", "CODE_128"];
  const EVERY_MS = 150; // between two looks at the picture
  const SAY = {
    looking: "Point the camera at a label's barcode or QR code.",
    refused:
      "The camera was refused. Allow it in the browser's settings for this site, or type the code.",
    absent: "No camera could be opened. Type the code, or use a hardware scanner.",
    insecure: "The camera opens only when the site is served over HTTPS. Type the code instead.",
    unable: "This browser cannot open a camera. Type the code instead.",
    failed: "The camera stopped. Try again, or type the code.",
    read: (code) => `Read ${code}. Opening it…`,
  };
  const START = toggle.textContent;
  const STOP = "Stop the camera";

  let on = false; // from a click on "Use the camera" to a stop
  let stream = null; // the camera, once it opened
  let timer = null;
  let session = 0; // a new one each start: a late answer of an old one is dropped

  function say(text, kind) {
    if (!notice) return;
    const line = document.createElement("p");
    line.className = kind ? `flash ${kind}` : "flash";
    line.setAttribute("role", kind === "error" ? "alert" : "status");
    line.textContent = text;
    notice.replaceChildren(line);
  }

  function stop() {
    on = false;
    session += 1;
    clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    view.srcObject = null;
    view.hidden = true;
    toggle.textContent = START;
  }

  // A reader: a function from the video to the text it shows, or null.
  async function nativeReader() {
    if (!("BarcodeDetector" in window)) return null;
    const known = await window.BarcodeDetector.getSupportedFormats();
    if (!FORMATS.every((format) => known.includes(format))) return null;
    const detector = new window.BarcodeDetector({ formats: FORMATS });
    return async (video) => {
      const [found] = await detector.detect(video);
      return found ? found.rawValue : null;
    };
  }

  function loadZXing() {
    if (window.ZXing) return Promise.resolve(window.ZXing);
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = camera.dataset.decoder;
      script.onload = () => resolve(window.ZXing);
      script.onerror = reject;
      document.head.append(script);
    });
  }

  async function zxingReader() {
    const ZXing = await loadZXing();
    const hints = new Map();
    hints.set(
      ZXing.DecodeHintType.POSSIBLE_FORMATS,
      ZXING_FORMATS.map((name) => ZXing.BarcodeFormat[name]),
    );
    hints.set(ZXing.DecodeHintType.TRY_HARDER, true);
    const reader = new ZXing.MultiFormatReader();
    reader.setHints(hints);
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async (video) => {
      if (!video.videoWidth) return null;
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const source = new ZXing.HTMLCanvasElementLuminanceSource(canvas);
      const picture = new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(source));
      try {
        return reader.decodeWithState(picture).getText();
      } catch (error) {
        if (error instanceof ZXing.NotFoundException) return null;
        // A checksum or format error: a blurred frame; the next may read.
        if (error instanceof ZXing.ChecksumException) return null;
        if (error instanceof ZXing.FormatException) return null;
        throw error;
      } finally {
        reader.reset();
      }
    };
  }

  function found(code) {
    stop();
    field.value = code;
    say(SAY.read(code));
    form.requestSubmit();
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(window.isSecureContext ? SAY.unable : SAY.insecure, "error");
      return;
    }
    const mine = ++session;
    on = true;
    toggle.textContent = STOP;
    try {
      const opened = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
      if (mine !== session) {
        opened.getTracks().forEach((track) => track.stop());
        return;
      }
      stream = opened;
      stream.getVideoTracks()[0].addEventListener("ended", () => failed(mine));
    } catch (error) {
      if (mine !== session) return;
      stop();
      const refused = error.name === "NotAllowedError" || error.name === "SecurityError";
      say(refused ? SAY.refused : SAY.absent, "error");
      return;
    }
    view.srcObject = stream;
    view.hidden = false;
    say(SAY.looking);
    try {
      await view.play();
      let read = await nativeReader();
      camera.dataset.reader = read ? "native" : "zxing";
      if (!read) read = await zxingReader();
      if (mine !== session) return;
      const look = async () => {
        let code = null;
        try {
          code = await read(view);
        } catch (error) {
          failed(mine);
          return;
        }
        if (mine !== session) return;
        if (code) found(code);
        else timer = setTimeout(look, EVERY_MS);
      };
      look();
    } catch (error) {
      failed(mine);
    }
  }

  function failed(mine) {
    if (mine !== session) return;
    stop();
    say(SAY.failed, "error");
  }

  toggle.addEventListener("click", () => {
    if (on) {
      stop();
      if (notice) notice.replaceChildren();
    } else {
      start();
    }
  });
  // Leaving the page, or coming back to it from the back-forward cache, turns
  // the camera off. (pageshow also ends every first load: a tap on "Use the
  // camera" before that, on a slow phone, must keep the camera on.)
  window.addEventListener("pagehide", stop);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) stop();
  });
  camera.hidden = false;
})();
