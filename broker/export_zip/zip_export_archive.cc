// SPDX-License-Identifier: Apache-2.0
#include "broker/export_zip/zip_export_archive.h"

#include <Poco/Exception.h>
#include <Poco/Path.h>
#include <Poco/Zip/Compress.h>

#include <fstream>
#include <memory>
#include <string>

namespace chatpro::export_zip {
namespace {

// Runs `fn`, turning whatever Poco or the standard library throws into a Status.
template <typename Fn>
Status Guard(std::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const Poco::Exception& e) {
    return Status::IoError(std::string(what) + ": " + e.displayText());
  } catch (const std::exception& e) {
    return Status::IoError(std::string(what) + ": " + e.what());
  }
}

class ZipExportArchive final : public core::ExportArchive {
 public:
  explicit ZipExportArchive(const std::string& path)
      : path_(path), out_(path, std::ios::binary | std::ios::trunc) {}

  Status Open() {
    if (!out_) return Status::IoError("cannot open " + path_);
    return Guard("cannot start " + path_, [&] {
      compress_ = std::make_unique<Poco::Zip::Compress>(out_, /*seekableOut=*/true);
      return Status::Ok();
    });
  }

  Status AddFile(std::string_view name, const std::string& source_path) override {
    return Guard("cannot add " + std::string(name) + " to " + path_, [&] {
      compress_->addFile(Poco::Path(source_path), Poco::Path(std::string(name), Poco::Path::PATH_UNIX),
                         Poco::Zip::ZipCommon::CM_DEFLATE, Poco::Zip::ZipCommon::CL_NORMAL);
      return out_ ? Status::Ok() : Status::IoError("write failed");
    });
  }

  Status Finish() override {
    return Guard("cannot finish " + path_, [&] {
      compress_->close();
      out_.close();
      return out_ ? Status::Ok() : Status::IoError("write failed");
    });
  }

 private:
  std::string path_;
  std::ofstream out_;
  std::unique_ptr<Poco::Zip::Compress> compress_;
};

}  // namespace

core::ExportArchiveFactory ZipExportArchives() {
  return [](const std::string& path) -> Result<std::unique_ptr<core::ExportArchive>> {
    auto archive = std::make_unique<ZipExportArchive>(path);
    CHATPRO_RETURN_IF_ERROR(archive->Open());
    return std::unique_ptr<core::ExportArchive>(std::move(archive));
  };
}

}  // namespace chatpro::export_zip
