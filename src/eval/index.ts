// simclr/eval: exporting encoders (safetensors for torchvision, ONNX) and run reports.
export {
  exportRunEncoder, saveEncoderSafetensors, saveEncoderOnnx, describeEncoder, torchvisionRecipe, EXPORT_FORMATS,
  type ExportFormat, type ExportOptions, type ExportResult, type EncoderDescription,
} from './export.js';
export { encoderToOnnx, ONNX_OPSET, ONNX_IR_VERSION, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, type OnnxExportOptions } from './onnx.js';
export {
  appendEvalResult, readEvalResults, evalPath, EVAL_FILE, writeReport, renderReportHtml, reportCharts, readMetricsRows, GRID_FILE,
  type EvalResult, type ReportMetricsRow, type ReportInputs, type ReportChart, type ReportOptions, type ReportResult,
} from './report.js';
export { renderLineChart, writeSvgPng, type LineChart, type Series, type ChartLayout, type RenderedChart } from './plot.js';
