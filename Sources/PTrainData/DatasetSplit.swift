/// Which part of a dataset to read. For the scikit-learn digits, which ship as
/// one file, see `DigitsCSVReader.rows(for:total:)` for how it is split.
public enum DatasetSplit: String, CaseIterable, Sendable {
    case train, test
}
