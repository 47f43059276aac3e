// Times are written in UTC by the server; shown in the viewer's own time, with
// the UTC one on hover (its title). Without script the UTC time stays.
"use strict";
const localTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
for (const time of document.querySelectorAll("time[datetime]")) {
  const at = new Date(time.dateTime);
  if (Number.isNaN(at.getTime())) continue;
  time.title = time.textContent.trim();
  time.textContent = localTime.format(at);
}
