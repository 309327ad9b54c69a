// Copyright 2026 The Cascade Authors.
//
// Table: the aligned columns `cascade` prints for people (list, workers,
// cancel, retry). Each column is as wide as its widest cell, counted in
// characters (UTF-8 code points), with two spaces between columns; the last
// column is not padded, so no line ends in spaces. Scripts read --json
// instead: this layout may change.
//
// Example:
//
//   Table table({"ID", "STATE"});
//   table.AddRow({"01J...", "queued"});
//   std::cout << table.Render();
//   // ID      STATE
//   // 01J...  queued

#ifndef CASCADE_CLI_TABLE_H_
#define CASCADE_CLI_TABLE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cascade::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  // A row with as many cells as the header (missing cells are empty, extra
  // ones dropped). Control characters in a cell are shown as spaces, so a
  // value cannot break the layout or move the cursor.
  void AddRow(std::vector<std::string> cells);

  size_t rows() const { return rows_.size(); }

  // The header line and the rows, each line ending in "\n".
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The width of `text` in characters: its UTF-8 code points.
size_t DisplayWidth(std::string_view text);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_TABLE_H_
