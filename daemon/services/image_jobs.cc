#include "daemon/services/image_jobs.h"

#include "daemon/host/log.h"
#include "daemon/services/render.h"

namespace amid {

void record_pending_image(Catalog& catalog, const Caller& caller, const std::string& action,
                          const std::optional<ClientToken>& client_token, const ImageRecord& image) {
  std::optional<ClientTokenRecord> token;
  if (client_token) {
    token = make_token_record(caller.account, action, *client_token, image.id, {{"ImageId", image.id}});
  }
  switch (catalog.insert_image_checked(image, token ? &*token : nullptr)) {
    case ImageInsert::kInserted:
      break;
    case ImageInsert::kNameTaken:
      throw AmidError(codes::kInvalidAmiNameDuplicate,
                      "Name: you already have an image named '" + image.name + "' in " + image.region);
    case ImageInsert::kTokenTaken:
      throw AmidError(kClientTokenTaken, "ClientToken: already recorded");
  }
}

ImageRecord replayed_image(const Catalog& catalog, const ClientTokenRecord& prior) {
  log_info(prior.action + " with ClientToken '" + prior.token + "' answered again with " + prior.resource_id);
  if (auto image = catalog.find_image(prior.resource_id)) return *image;
  ImageRecord gone;  // reclaimed since: the id is still the answer
  gone.id = prior.resource_id;
  return gone;
}

void write_manifest(Runtime& rt, const ImageRecord& image, const protocol::Json& extra) {
  protocol::Json manifest = render_image(image);
  manifest["State"] = "available";
  for (auto& [key, value] : extra.items()) manifest[key] = value;
  rt.files->write_file(rt.store.image_dir(image.id) + "/manifest.json", manifest.dump(2) + "\n", 0640);
}

void fail_image_job(Runtime& rt, const ImageRecord& image, const std::string& reason) {
  log_error("image " + image.id + " capture failed: " + reason);
  try {
    rt.files->remove_dir(rt.store.image_dir(image.id));
  } catch (const std::exception& e) {
    log_error("image " + image.id + ": cannot remove partial files: " + e.what());
  }
  for (const auto& snap : rt.catalog.snapshots_of_image(image.id)) rt.catalog.delete_snapshot(snap.id);
  rt.catalog.delete_warm_state(image.id);  // a copy's or a --warm capture's, recorded just before the end
  rt.catalog.set_image_state(image.id, ImageState::kFailed, "Server.InternalError: " + reason);
}

}  // namespace amid
