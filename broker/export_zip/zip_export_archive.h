// SPDX-License-Identifier: Apache-2.0
//
// ZipExportArchive: core::ExportArchive written as a zip file with Poco::Zip.
// Each member is deflated while it is read from its file in pieces, so memory
// stays small whatever the size of the export. Poco's exceptions end here and
// come back as Status (IoError).
//
// Lifecycle: the factory opens the file; AddFile() per member; Finish()
// writes the central directory and closes the file. An archive dropped
// without Finish() leaves an incomplete file (the core removes it).
// Thread-safety: one archive is used by one thread at a time.
#pragma once

#include "broker/core/case_export.h"

namespace chatpro::export_zip {

// The factory the service hands to Broker::ConfigureCases.
core::ExportArchiveFactory ZipExportArchives();

}  // namespace chatpro::export_zip
