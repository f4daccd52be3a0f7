"""A small generated detection data set in COCO format: coloured shapes on textured backgrounds.

Two classes, told apart by shape only (colours are random): "square" (category id 7) and
"disc" (id 3), listed in that order so label 1 = square, label 2 = disc. With `extras=True`
the set also holds what a reader must filter: a crowd box, an image without any box, and a
third category ("triangle", id 11) for class-selection tests.
"""
import json
import os

import cv2
import numpy as np

CATEGORIES = [{"id": 7, "name": "square", "supercategory": "shape"},
              {"id": 3, "name": "disc", "supercategory": "shape"}]
TRIANGLE = {"id": 11, "name": "triangle", "supercategory": "shape"}


def textured_background(rng, size):
    """Two random colours blended by a few random plane waves plus noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    field = np.zeros((size, size), np.float32)
    for _ in range(3):
        fy, fx = rng.uniform(-6, 6, size=2)
        field += np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    field += rng.normal(0, 0.08, field.shape).astype(np.float32)
    low, high = rng.uniform(40, 215, size=(2, 3))
    image = low + np.clip(field, 0, 1)[..., None] * (high - low)
    return np.clip(image, 0, 255).astype(np.uint8)


def _place(rng, size, taken, min_side, max_side):
    """A box [x, y, w, h] that overlaps no taken box; None if none fits."""
    for _ in range(50):
        side = rng.uniform(min_side, max_side) * size
        w, h = side * rng.uniform(0.8, 1.2), side * rng.uniform(0.8, 1.2)
        x, y = rng.uniform(0, size - w), rng.uniform(0, size - h)
        if all(x + w <= tx or tx + tw <= x or y + h <= ty or ty + th <= y for tx, ty, tw, th in taken):
            return [x, y, w, h]
    return None


def _draw(image, shape, box, colour):
    x, y, w, h = box
    colour = tuple(int(c) for c in colour)
    if shape == "square":
        cv2.rectangle(image, (int(round(x)), int(round(y))), (int(round(x + w)) - 1, int(round(y + h)) - 1),
                      colour, thickness=-1)
    elif shape == "disc":
        cv2.ellipse(image, (int(round(x + w / 2)), int(round(y + h / 2))), (int(round(w / 2)), int(round(h / 2))),
                    0, 0, 360, colour, thickness=-1)
    else:  # triangle
        points = np.array([[x + w / 2, y], [x + w, y + h], [x, y + h]]).round().astype(np.int32)
        cv2.fillPoly(image, [points], colour)


def make_shapes_dataset(root, num_images=16, image_size=160, seed=0, objects=(1, 3), sides=(0.25, 0.5),
                        extras=False):
    """Write `root/images/*.png` and `root/instances.json`; return (json path, image dir)."""
    rng = np.random.default_rng(seed)
    image_dir = os.path.join(root, "images")
    os.makedirs(image_dir, exist_ok=True)
    shapes = {"square": 7, "disc": 3}
    if extras:
        shapes["triangle"] = TRIANGLE["id"]
    images, annotations = [], []
    for index in range(num_images):
        image = textured_background(rng, image_size)
        taken = []
        empty = extras and index == num_images - 1
        for _ in range(0 if empty else int(rng.integers(objects[0], objects[1] + 1))):
            box = _place(rng, image_size, taken, *sides)
            if box is None:
                continue
            shape = list(shapes)[int(rng.integers(len(shapes)))]
            _draw(image, shape, box, rng.uniform(0, 255, size=3))
            taken.append(box)
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "category_id": shapes[shape],
                                "bbox": [round(v, 2) for v in box], "area": round(box[2] * box[3], 2),
                                "iscrowd": 0})
        if extras and index == 0:  # a crowd region: must never become a training target
            annotations.append({"id": len(annotations) + 1, "image_id": 1, "category_id": 7,
                                "bbox": [0, 0, image_size / 4, image_size / 4], "area": (image_size / 4) ** 2,
                                "iscrowd": 1})
        file_name = f"{index:04d}.png"
        cv2.imwrite(os.path.join(image_dir, file_name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        images.append({"id": index + 1, "file_name": file_name, "height": image_size, "width": image_size})
    categories = CATEGORIES + ([TRIANGLE] if extras else [])
    path = os.path.join(root, "instances.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return path, image_dir


def _coco_by_image(annotations_file):
    """(categories, [(image entry, [annotation, ...]), ...]) of a COCO file, in the file's order."""
    with open(annotations_file) as f:
        data = json.load(f)
    boxes = {image["id"]: [] for image in data["images"]}
    for ann in data["annotations"]:
        boxes[ann["image_id"]].append(ann)
    return data["categories"], [(image, boxes[image["id"]]) for image in data["images"]]


def write_voc(annotations_file, image_dir, root):
    """The COCO set as a VOCdevkit year folder (Annotations/, JPEGImages/, ImageSets/Main/all.txt):
    VOC's 1-based corners (xmin = x + 1, xmax = x + w + 1), crowd boxes as `difficult`. -> root"""
    import shutil
    import xml.etree.ElementTree as ET

    _, images = _coco_by_image(annotations_file)
    names = {c["id"]: c["name"] for c in _coco_by_image(annotations_file)[0]}
    for folder in ("Annotations", "JPEGImages", os.path.join("ImageSets", "Main")):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for image, anns in images:
        shutil.copy(os.path.join(image_dir, image["file_name"]), os.path.join(root, "JPEGImages"))
        top = ET.Element("annotation")
        ET.SubElement(top, "filename").text = image["file_name"]
        size = ET.SubElement(top, "size")
        for key, value in (("width", image["width"]), ("height", image["height"]), ("depth", 3)):
            ET.SubElement(size, key).text = str(value)
        for ann in anns:
            obj = ET.SubElement(top, "object")
            ET.SubElement(obj, "name").text = names[ann["category_id"]]
            ET.SubElement(obj, "difficult").text = str(int(ann["iscrowd"]))
            box = ET.SubElement(obj, "bndbox")
            x, y, w, h = ann["bbox"]
            for key, value in (("xmin", x + 1), ("ymin", y + 1), ("xmax", x + w + 1), ("ymax", y + h + 1)):
                ET.SubElement(box, key).text = repr(float(value))
        ET.indent(top)
        stem = os.path.splitext(image["file_name"])[0]
        ET.ElementTree(top).write(os.path.join(root, "Annotations", f"{stem}.xml"))
    with open(os.path.join(root, "ImageSets", "Main", "all.txt"), "w") as f:
        f.writelines(os.path.splitext(image["file_name"])[0] + "\n" for image, _ in images)
    return root


def write_yolo(annotations_file, image_dir, root, split="train"):
    """The COCO set in Ultralytics' layout: root/images/<split>/, root/labels/<split>/*.txt with
    `class cx cy w h` normalised (classes in the file's category order), root/data.yaml.
    Crowd boxes have no YOLO form and are left out. -> path of data.yaml"""
    import shutil

    categories, images = _coco_by_image(annotations_file)
    index = {c["id"]: k for k, c in enumerate(categories)}
    for folder in ("images", "labels"):
        os.makedirs(os.path.join(root, folder, split), exist_ok=True)
    for image, anns in images:
        shutil.copy(os.path.join(image_dir, image["file_name"]), os.path.join(root, "images", split))
        width, height = image["width"], image["height"]
        lines = [f"{index[a['category_id']]} {(a['bbox'][0] + a['bbox'][2] / 2) / width!r} "
                 f"{(a['bbox'][1] + a['bbox'][3] / 2) / height!r} {a['bbox'][2] / width!r} {a['bbox'][3] / height!r}"
                 for a in anns if not a["iscrowd"]]
        if lines:  # an image without boxes has no label file
            stem = os.path.splitext(image["file_name"])[0]
            with open(os.path.join(root, "labels", split, f"{stem}.txt"), "w") as f:
                f.write("\n".join(lines) + "\n")
    path = os.path.join(root, "data.yaml")
    with open(path, "w") as f:
        f.write(f"path: .\n{split}: images/{split}\nnames:\n" + "".join(f"  {k}: {c['name']}\n"
                                                                        for k, c in enumerate(categories)))
    return path
