/** Writing labels: changes, their text edits per format, and the journaled, atomic writer. */
export { type LabelChange, LabelError, labelFile, lastChangePerImage } from './change';
export { applyTextEdits, labelEdits } from './edits';
export { type JournalEntry, LabelJournal } from './journal';
export { LabelWriteError, LabelWriter, type LabelWriterOptions, type WriteResult } from './writer';
