// simclr/eval: exporting encoders (safetensors for torchvision, ONNX), run reports, and evaluation (kNN, linear,
// fine-tuning, embeddings).
export {
  exportRunEncoder,
  saveEncoderSafetensors,
  saveEncoderOnnx,
  describeEncoder,
  torchvisionRecipe,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportOptions,
  type ExportResult,
  type EncoderDescription,
} from './export.js';
export {
  encoderToOnnx,
  ONNX_OPSET,
  ONNX_IR_VERSION,
  ONNX_INPUT_NAME,
  ONNX_OUTPUT_NAME,
  type OnnxExportOptions,
} from './onnx.js';
export {
  appendEvalResult,
  readEvalResults,
  evalPath,
  EVAL_FILE,
  writeReport,
  renderReportHtml,
  reportCharts,
  readMetricsRows,
  GRID_FILE,
  type EvalResult,
  type ReportMetricsRow,
  type ReportInputs,
  type ReportChart,
  type ReportOptions,
  type ReportResult,
} from './report.js';
export {
  renderLineChart,
  writeSvgPng,
  type LineChart,
  type Series,
  type ChartLayout,
  type RenderedChart,
} from './plot.js';
export {
  extractFeatures,
  extractViews,
  loadImages,
  sampleIndices,
  openForEncoder,
  openEvalSplit,
  cropFlipAugmentConfig,
  topkAccuracy,
  classCount,
  labelledRows,
  DEFAULT_EVAL_BATCH_SIZE,
  type Features,
  type FeatureOptions,
  type FeatureAugment,
} from '../features/extract.js';
export {
  knnScores,
  knnEvaluate,
  knnMonitor,
  DEFAULT_KNN_K,
  DEFAULT_KNN_TEMPERATURE,
  type KnnOptions,
  type KnnResult,
  type KnnMonitorOptions,
} from '../features/knn.js';
export {
  fitLogisticRegression,
  predictLogits,
  linearEvaluate,
  DEFAULT_L2_GRID,
  type LogisticRegressionOptions,
  type LogisticRegressionModel,
  type LinearEvalOptions,
  type LinearEvalResult,
} from './linear.js';
export {
  finetune,
  labelSubset,
  firstHeadLayer,
  FinetuneNet,
  type FinetuneOptions,
  type FinetuneResult,
  type LabelSubset,
} from './finetune.js';
export { writeEmbeddings, type EmbedOptions, type EmbedResult } from './embed.js';
export { compareWithRandomInit, type CompareOptions, type CompareResult, type EncoderScores } from './compare.js';
