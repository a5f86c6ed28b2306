// `simclr report RUN`: a self-contained HTML report of a run, with PNG charts beside it.
import { commandSchema, text } from './fields.js';

export const REPORT = commandSchema('report', {
  /** null = RUN/report.html. */
  out: text(null, {
    arg: '<file.html>',
    help: 'HTML file (default: RUN/report.html); charts go beside it as <name>-<chart>.png',
    readme: {
      flag: '`--out FILE`',
      default: '`RUN/report.html`',
      meaning: 'HTML file; charts go beside it as `<name>-<chart>.png`',
    },
  }),
});
