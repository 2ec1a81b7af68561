// The app's own alarm at the end of an application, while the app is open: a short beep (WebAudio) and a
// vibration. The server's push comes too once the start has synced; started offline, this is all there is.
const rung = new Set();

export function ringOnce(key) {
  if (rung.has(key)) return false;
  rung.add(key);
  beep();
  if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
  return true;
}

function beep() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  try {
    const audio = new Context();
    const gain = audio.createGain();
    gain.connect(audio.destination);
    gain.gain.value = 0.2;
    // Three short tones: heard across a room, not alarming.
    [0, 0.5, 1].forEach((at) => {
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(gain);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + 0.25);
    });
    setTimeout(() => audio.close().catch(() => {}), 2000);
  } catch {
    // No audio (autoplay refused before any tap): the vibration and the screen still say it.
  }
}
